"""The Litestar app: routes, auth, settings and the command line."""
