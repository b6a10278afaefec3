"""Desk login sessions: a random token in an HttpOnly, SameSite=Strict cookie, its SHA-256 in
`desk_sessions` (so sessions survive a restart and expire), and a per-session CSRF token
that every desk form and htmx request must carry back."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import DeskSession, User
from cases.passwords import DESK_ROLES
from cases.users import hash_token

COOKIE = "kancha_session"
LOGIN_COOKIE = "kancha_login"  # the login form's own CSRF token (before any session)
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


async def open_session(
    session: AsyncSession, user: User, now: datetime, lifetime: timedelta
) -> tuple[str, DeskSession]:
    """A new session for `user`; returns the cookie's token (never stored in clear)."""
    token = secrets.token_urlsafe(32)
    row = DeskSession(
        id=hash_token(token),
        user_id=user.id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    # Expired sessions of anyone are dropped as new ones open: the table stays small.
    await session.execute(delete(DeskSession).where(DeskSession.expires_at <= now))
    await session.flush()
    return token, row


async def session_user(
    session: AsyncSession, token: str, now: datetime
) -> tuple[User, DeskSession] | None:
    """The active desk user of a live session, or None (unknown, expired, revoked)."""
    if not token or len(token) > 200:
        return None
    found = (
        await session.execute(
            select(User, DeskSession)
            .join(DeskSession, DeskSession.user_id == User.id)
            .where(DeskSession.id == hash_token(token))
        )
    ).first()
    if found is None:
        return None
    user, row = found
    if row.expires_at <= now or user.revoked_at is not None or user.role not in DESK_ROLES:
        return None
    return user, row


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(DeskSession).where(DeskSession.id == hash_token(token)))


async def close_sessions_of(session: AsyncSession, user_id: int) -> None:
    """Log a user out everywhere (revoked, password reset)."""
    await session.execute(delete(DeskSession).where(DeskSession.user_id == user_id))


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
