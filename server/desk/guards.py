"""Desk guards: who may open a page, and the CSRF check every desk form and htmx request
passes (synchronizer token: the session's `csrf`, in the form field or the header)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from cases.models import DeskSession
from server.desk.sessions import CSRF_FIELD, CSRF_HEADER, same_token

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfRefused(PermissionDeniedException):
    """A desk form without its session's CSRF token (403)."""


def desk(*allowed: str):
    """Guard: a logged-in desk user of these roles (admin always); else 401 (the login page)
    or 403; and for a form, the CSRF token of their session."""
    permitted = {*allowed, "admin"}

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if user is None:
            raise NotAuthorizedException("log in first")
        if user.role not in permitted:
            raise PermissionDeniedException(f"role {user.role!r} may not open this page")
        if connection.scope.get("method") in UNSAFE:
            await check_csrf(connection)

    return guard


async def check_csrf(connection: ASGIConnection) -> None:
    auth = connection.scope.get("auth")
    if not isinstance(auth, DeskSession):
        return  # a bearer token is never sent by a browser on its own: no CSRF to fear
    given = connection.headers.get(CSRF_HEADER)
    if not given:
        form = await connection.form()  # type: ignore[attr-defined]  # a Request here
        given = form.get(CSRF_FIELD)
    if not same_token(given if isinstance(given, str) else None, auth.csrf):
        raise CsrfRefused("CSRF token missing or wrong: reload the page")
