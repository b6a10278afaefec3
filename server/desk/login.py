"""Login, logout and the language switch: the only desk routes open without a session."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from cases.clock import Clock
from cases.passwords import user_for_login
from server.desk.guards import desk
from server.desk.i18n import LANG_COOKIE, LANGUAGES
from server.desk.render import page
from server.desk.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    close_session,
    open_session,
    same_token,
)
from server.settings import Settings

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
YEAR = 366 * 86400


def safe_next(target: str | None) -> str:
    """Only a path of this site (never `//host` or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(request: Request, *, error: str | None = None, status: int = 200) -> Template:
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        status_code=status,
        login_csrf=token,
        error=error,
        next=safe_next(request.query_params.get("next")),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=3600,
        path="/login",
    )
    return response


@get("/login", include_in_schema=False)
async def login_form(request: Request) -> Template:
    return _login_page(request)


@post("/login", include_in_schema=False, status_code=303)
async def login(
    request: Request,
    data: Annotated[dict[str, str], FORM],
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
    settings: NamedDependency[Settings],
) -> Response:
    if not same_token(data.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")):
        return _login_page(request, error="login.expired", status=403)
    user = await user_for_login(db_session, data.get("username", ""), data.get("password", ""))
    if user is None:
        return _login_page(request, error="login.failed", status=401)
    lifetime = timedelta(seconds=settings.desk_session_seconds)
    token, _ = await open_session(db_session, user, clock.now(), lifetime)
    response = Redirect(safe_next(data.get("next")), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=settings.desk_session_seconds,
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@post("/logout", guards=[desk("dispatcher", "reviewer")], include_in_schema=False, status_code=303)
async def logout(request: Request, db_session: NamedDependency[AsyncSession]) -> Response:
    await close_session(db_session, request.cookies.get(COOKIE, ""))
    response = Redirect("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@get("/lang/{code:str}", include_in_schema=False)
async def switch_language(request: Request, code: FromPath[str]) -> Response:
    """The switch on every page: remembered in a cookie, back to the page it was on."""
    response = Redirect(safe_next(request.query_params.get("next")), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, samesite="lax", max_age=YEAR, path="/")
    return response


@get("/", guards=[desk("dispatcher", "reviewer")], include_in_schema=False)
async def home(request: Request) -> Response:
    """A dispatcher starts on the board, a reviewer on the queue."""
    user = request.scope["user"]
    return Redirect("/review" if user.role == "reviewer" else "/board", status_code=303)
