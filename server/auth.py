"""Bearer-token authentication and role guards.

No or bad token: 401. A valid token with the wrong role: 403 (route guards). Whether a
surveyor may touch a particular case is decided in the handler, which knows the case.
OPTIONS is never authenticated (the middleware's default, so CORS preflights and tus
discovery work without a token): Litestar's own OPTIONS answer, which only lists the
allowed methods, passes the guards; anything else that finds no user in scope is a 401.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from cases.models import User
from cases.users import token_holder
from server.db import Database
from server.desk.sessions import COOKIE, session_user

Guard = Callable[[ASGIConnection, BaseRouteHandler], None]


SAFE = frozenset({"GET", "HEAD"})


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """A bearer token (tablets, scripts) or a desk session cookie (browsers). A desk session
    never authorises `/v1/sync/*`, and on the rest of `/v1` only reads (a photo URL opened in
    the browser): desk acts go through the desk's own forms, which carry a CSRF token."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        cookie = connection.cookies.get(COOKIE, "")
        if not header and cookie:
            return await _desk_session(connection, cookie)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated()
        database: Database = connection.app.state.database
        async with database.one_read() as conn:
            user = await token_holder(conn, token)
        if user is None:
            raise NotAuthorizedException(
                "invalid or revoked token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return AuthenticationResult(user=user, auth=token)


async def _desk_session(connection: ASGIConnection, cookie: str) -> AuthenticationResult:
    path = connection.scope["path"]
    if path.startswith("/v1/sync"):
        raise _unauthenticated("a desk session does not authorise sync: tablets use tokens")
    if path.startswith("/v1/") and connection.scope.get("method") not in SAFE:
        raise _unauthenticated("a desk session only reads the API: act from the desk's pages")
    database: Database = connection.app.state.database
    async with database.session(write=False) as session:
        found = await session_user(session, cookie, connection.app.state.clock.now())
    if found is None:
        raise _unauthenticated("session expired or ended: log in again")
    user, desk = found
    return AuthenticationResult(user=user, auth=desk)


def roles(*allowed: str) -> Guard:
    """A guard admitting only these roles; `admin` is always admitted."""
    permitted = {*allowed, "admin"}

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if user is None:
            if connection.scope.get("method") == "OPTIONS":
                return
            raise _unauthenticated()
        if user.role not in permitted:
            raise PermissionDeniedException(
                f"role {user.role!r} may not do this (needs {' or '.join(sorted(permitted))})"
            )

    return guard


def provide_user(request: Request) -> User:
    """The authenticated user, as a dependency named `user` (401 where there is none)."""
    user = request.scope.get("user")
    if user is None:
        raise _unauthenticated()
    return user


def _unauthenticated(detail: str = "missing bearer token") -> NotAuthorizedException:
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": "Bearer"})
