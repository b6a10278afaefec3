"""Admin pages: the users (add, change role / team / approval authority, reset a desk
password, issue a tablet token shown once, revoke). Only admins. Each form calls the same
functions as the `kancha user` commands (cases/users.py, cases/accounts.py,
cases/passwords.py); a refusal shows the page again with the message beside its form."""

from __future__ import annotations

import math
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from cases.accounts import Profile, add_user, set_profile
from cases.clock import Clock
from cases.models import User
from cases.passwords import DESK_ROLES, set_password
from cases.users import UserError, issue_token, list_users, revoke_user
from cases.values import ROLES
from server.desk.guards import desk
from server.desk.render import page
from server.desk.sessions import close_sessions_of
from sync.openrosa.qr import collect_settings, svg_data_uri

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
Form = Annotated[dict[str, str], FORM]
NO_STORE = {"Cache-Control": "no-store"}  # a page showing a token is never kept
SAVED = ("profile", "password", "revoked")


def _amount(text: str | None) -> float | None:
    """The approval authority as typed: empty is no limit."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError("max_approve must be a number of yuan, 0 or more") from None
    if not math.isfinite(value):
        raise UserError("max_approve must be a number of yuan, 0 or more")
    return value


def _profile(data: dict[str, str]) -> Profile:
    return Profile(
        role=data.get("role", ""),
        team=(data.get("team") or "").strip() or None,
        max_approve=_amount(data.get("max_approve")),
    )


def _status(error: UserError) -> int:
    return 409 if "already exists" in str(error) else 400


async def _users_page(
    request: Request, session: AsyncSession, *, status: int = 200, **context: Any
) -> Template:
    return page(
        request,
        "admin.html",
        status_code=status,
        users=await list_users(session),
        roles=ROLES,
        desk_roles=DESK_ROLES,
        form=context.pop("form", {}),
        **context,
    )


MAX_ID = 2**31 - 1  # users.id is a 32-bit integer: a larger one names nobody


async def _user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFoundException(f"no user {user_id}")
    return user


def _user_page(request: Request, user: User, *, status: int = 200, **context: Any) -> Template:
    saved = request.query_params.get("saved")
    return page(
        request,
        "admin_user.html",
        status_code=status,
        target=user,
        roles=ROLES,
        desk_roles=DESK_ROLES,
        saved=saved if saved in SAVED else None,
        errors=context.pop("errors", {}),
        **context,
    )


def _token_page(
    request: Request, user: User | str, token: str, *, status: int = 200, role: str = ""
) -> Template:
    holder = user if isinstance(user, str) else user.name
    role = role if isinstance(user, str) else user.role
    # A surveyor's token also configures ODK Collect: the QR code carries this server's URL
    # with the token in it (sync/openrosa/qr.py), shown once like the token itself.
    qr = None
    if role == "surveyor":
        server_root = str(request.base_url).rstrip("/")
        qr = svg_data_uri(collect_settings(server_root, token, holder))
    response = page(
        request, "admin_token.html", status_code=status, holder=holder, token=token, qr=qr
    )
    response.headers.update(NO_STORE)
    return response


@get("/admin", guards=[desk("admin")], include_in_schema=False)
async def admin_page(request: Request, db_session: NamedDependency[AsyncSession]) -> Template:
    return await _users_page(request, db_session)


@post("/admin/users", guards=[desk("admin")], include_in_schema=False, status_code=201)
async def add_user_form(
    request: Request,
    data: Form,
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
) -> Template:
    """A new user: their tablet token (the only time it is shown) on the page it answers."""
    name = data.get("name", "")
    try:
        token = await add_user(db_session, name, _profile(data), clock.now(), data.get("password"))
    except UserError as error:
        form = {k: v for k, v in data.items() if k in ("name", "role", "team", "max_approve")}
        return await _users_page(
            request, db_session, status=_status(error), add_error=str(error), form=form
        )
    return _token_page(request, name.strip(), token, status=201, role=str(data.get("role", "")))


@get("/admin/users/{user_id:int}", guards=[desk("admin")], include_in_schema=False)
async def user_page(
    request: Request, user_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> Template:
    return _user_page(request, await _user(db_session, user_id))


def _own(request: Request, user: User) -> bool:
    return request.scope["user"].id == user.id


@post("/admin/users/{user_id:int}/profile", guards=[desk("admin")], include_in_schema=False)
async def profile_form(
    request: Request, user_id: FromPath[int], data: Form, db_session: NamedDependency[AsyncSession]
) -> Response:
    user = await _user(db_session, user_id)
    try:
        profile = _profile(data)
        if _own(request, user) and profile.role != "admin":
            return _user_page(request, user, status=403, errors={"profile": "admin.own_role"})
        await set_profile(db_session, user.name, profile)
    except UserError as error:
        return _user_page(request, user, status=400, errors={"profile": str(error)})
    return Redirect(f"/admin/users/{user.id}?saved=profile", status_code=303)


@post("/admin/users/{user_id:int}/password", guards=[desk("admin")], include_in_schema=False)
async def password_form(
    request: Request, user_id: FromPath[int], data: Form, db_session: NamedDependency[AsyncSession]
) -> Response:
    """A new desk password; the user's open sessions end (they log in with the new one)."""
    user = await _user(db_session, user_id)
    password = data.get("password", "")
    if password != data.get("confirm", ""):
        return _user_page(request, user, status=400, errors={"password": "admin.mismatch"})
    try:
        await set_password(db_session, user.name, password)
    except UserError as error:
        return _user_page(request, user, status=400, errors={"password": str(error)})
    await close_sessions_of(db_session, user.id)
    if _own(request, user):  # their own session ended with the others: log in again
        return Redirect("/login", status_code=303)
    return Redirect(f"/admin/users/{user.id}?saved=password", status_code=303)


@post("/admin/users/{user_id:int}/token", guards=[desk("admin")], include_in_schema=False)
async def token_form(
    request: Request, user_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> Response:
    """A new API token for the user's tablet or scripts, shown once; the old one stops."""
    user = await _user(db_session, user_id)
    try:
        token = await issue_token(db_session, user.name)
    except UserError as error:
        return _user_page(request, user, status=409, errors={"token": str(error)})
    return _token_page(request, user, token)


@post("/admin/users/{user_id:int}/revoke", guards=[desk("admin")], include_in_schema=False)
async def revoke_form(
    request: Request,
    user_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
) -> Response:
    """Revoked: their token and desk sessions stop at once; the user stays in the records."""
    user = await _user(db_session, user_id)
    if _own(request, user):
        return _user_page(request, user, status=403, errors={"revoke": "admin.own_revoke"})
    await revoke_user(db_session, user.name, clock.now())
    await close_sessions_of(db_session, user.id)
    return Redirect(f"/admin/users/{user.id}?saved=revoked", status_code=303)
