"""The desk: server-rendered pages (Jinja2 + htmx, every asset served from this package) for
dispatchers, reviewers and admins, over the same domain functions as the API."""
