"""Users and their API tokens: created from the command line, shown once, stored hashed."""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from cases.models import User
from cases.values import ROLES


class UserError(ValueError):
    """A user command that cannot be carried out; the message says why."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Roles that approve estimates, and so may hold an approval authority (核损权限).
APPROVERS = ("reviewer", "admin")


def check_authority(role: str, max_approve: float | None) -> None:
    """An approval authority is yuan, 0 or more, and only a reviewer's (or an admin's)."""
    if max_approve is None:
        return
    if not math.isfinite(max_approve) or max_approve < 0:
        raise UserError("--max-approve must be a number of yuan, 0 or more")
    if role not in APPROVERS:
        raise UserError(f"--max-approve is an approval authority: a {role} approves nothing")


async def create_user(
    session: AsyncSession,
    name: str,
    role: str,
    now: datetime,
    max_approve: float | None = None,
    *,
    team: str | None = None,
) -> str:
    """Create a user and return its new token (the only time it exists in clear);
    `max_approve` is a reviewer's approval authority in yuan (None: no limit), `team` a
    surveyor's team (its limits apply to their dispatches)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise UserError("name must be 1 to 100 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UserError("name must not hold control characters")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    check_authority(role, max_approve)
    team = checked_team(team)
    if await session.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserError(f"a user named {name!r} already exists")
    token = new_token()
    session.add(
        User(
            name=name,
            role=role,
            token_hash=hash_token(token),
            created_at=now,
            max_approve=max_approve,
            team=team,
        )
    )
    await session.flush()
    return token


def checked_team(team: str | None) -> str | None:
    """A team name as stored (trimmed; empty: no team), or a UserError saying why not."""
    if team is None or not team.strip():
        return None
    team = team.strip()
    if len(team) > 64 or "\x00" in team:
        raise UserError("team must be at most 64 characters")
    return team


async def set_team(session: AsyncSession, name: str, team: str | None) -> str | None:
    """Put a user in a team (None or empty: in none); dispatches from now on carry it,
    earlier ones keep the team they were made with."""
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    user.team = checked_team(team)
    await session.flush()
    return user.team


def new_token() -> str:
    return "kt_" + secrets.token_urlsafe(32)


async def issue_token(session: AsyncSession, name: str) -> str:
    """Give an active user a new token, which replaces (and so invalidates) the old one."""
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    if user.revoked_at is not None:
        raise UserError(f"user {name!r} is revoked")
    token = new_token()
    user.token_hash = hash_token(token)
    await session.flush()
    return token


async def set_authority(session: AsyncSession, name: str, max_approve: float | None) -> User:
    """Change a reviewer's approval authority (None: no limit); it applies at once."""
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    check_authority(user.role, max_approve)
    user.max_approve = max_approve
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.name)))


async def revoke_user(session: AsyncSession, name: str, now: datetime) -> None:
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    if user.revoked_at is None:
        user.revoked_at = now
        await session.flush()


_BY_TOKEN = select(*User.__table__.c).where(User.__table__.c.token_hash == bindparam("token_hash"))


async def token_holder(conn: AsyncConnection, token: str) -> User | None:
    """The active user holding this token, or None. On a bare connection, not a session:
    every authenticated request asks it, and the ORM's session and entity loading were a
    quarter of a small request's CPU. The user is returned detached, as a closed session
    leaves it."""
    found = await conn.execute(_BY_TOKEN, {"token_hash": hash_token(token)})
    row = found.mappings().first()
    if row is None or row["revoked_at"] is not None:
        return None
    user = User(**row)
    make_transient_to_detached(user)
    return user


async def active_user_by_name(session: AsyncSession, name: str) -> User | None:
    user = await session.scalar(select(User).where(User.name == name))
    if user is None or user.revoked_at is not None:
        return None
    return user
