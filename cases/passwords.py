"""Desk passwords: set by an admin (CLI or admin page), hashed with argon2 (argon2-cffi, the
Password Hashing Competition winner: memory-hard, salted, parameters in the hash), checked at
login. Only desk roles log in with a password; tablets keep their bearer tokens."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import User
from cases.users import UserError

DESK_ROLES = ("dispatcher", "reviewer", "admin")
MIN_LENGTH = 8
MAX_LENGTH = 200  # argon2 takes anything; a longer one is a paste accident
_hasher = PasswordHasher()
# Checked against when the user does not exist, so that a wrong name takes as long as a
# wrong password (no user enumeration by timing).
_DUMMY = _hasher.hash("no such user, no such password")


def check_new_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise UserError(f"a password is {MIN_LENGTH} to {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


async def set_password(session: AsyncSession, name: str, password: str) -> User:
    """Give a desk user a (new) password; a surveyor logs in with a tablet, never here."""
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    if user.role not in DESK_ROLES:
        raise UserError(f"a {user.role} has no desk login (desk roles: {', '.join(DESK_ROLES)})")
    user.password_hash = hash_password(password)
    await session.flush()
    return user


async def user_for_login(session: AsyncSession, name: str, password: str) -> User | None:
    """The active desk user with this name and password, or None (whichever was wrong)."""
    user = await session.scalar(select(User).where(User.name == name.strip()))
    stored = user.password_hash if user is not None else None
    try:
        _hasher.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None or user.revoked_at is not None:
        return None
    if user.role not in DESK_ROLES:
        return None
    return user
