"""Errors on desk pages are pages: no session sends the browser to the login page (and back
after it), a refusal is shown in words; the API keeps its JSON errors."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect

from server.desk.guards import CsrfRefused
from server.desk.render import page

API_PREFIXES = ("/v1/", "/schema", "/health")


def is_desk(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def desk_error(request: Request, status: int, exc: Exception) -> Response:
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):  # htmx: a full-page redirect, not a fragment
            return Response("", status_code=204, headers={"HX-Redirect": "/login"})
        return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)
    message = {403: "error.forbidden", 404: "error.not_found"}.get(status, "")
    if isinstance(exc, CsrfRefused):
        message = "error.csrf"
    detail = getattr(exc, "detail", "") if not message else ""
    return page(
        request,
        "error.html",
        status_code=status,
        status=status,
        message=message or detail,
        detail=None,
    )
