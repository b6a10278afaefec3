"""What an admin does to users beyond the command line's one-liners: add a user with their
desk password at once, and change a user's role, team and approval authority together, so
that the three are checked as one (an authority only for a role that approves)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import User
from cases.passwords import DESK_ROLES, check_new_password, hash_password
from cases.users import UserError, check_authority, checked_team, create_user
from cases.values import ROLES


@dataclass(frozen=True)
class Profile:
    """A user's role, team (None: none) and approval authority in yuan (None: no limit)."""

    role: str
    team: str | None = None
    max_approve: float | None = None


def check_profile(profile: Profile) -> None:
    if profile.role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    check_authority(profile.role, profile.max_approve)
    checked_team(profile.team)


async def add_user(
    session: AsyncSession, name: str, profile: Profile, now: datetime, password: str | None
) -> str:
    """Create the user and return their token (shown once); `password` gives a desk role
    its login (a surveyor has none: they use the tablet)."""
    check_profile(profile)
    if password:
        if profile.role not in DESK_ROLES:
            raise UserError(f"a {profile.role} has no desk login: leave the password empty")
        check_new_password(password)
    token = await create_user(
        session, name, profile.role, now, profile.max_approve, team=profile.team
    )
    if password:
        user = await session.scalar(select(User).where(User.name == name.strip()))
        assert user is not None  # just created
        user.password_hash = hash_password(password)
        await session.flush()
    return token


async def set_role(session: AsyncSession, name: str, role: str) -> User:
    """Change a user's role; an approval authority stays only on a role that approves."""
    user = await _user(session, name)
    check_profile(Profile(role, user.team, user.max_approve))
    user.role = role
    await session.flush()
    return user


async def set_profile(session: AsyncSession, name: str, profile: Profile) -> User:
    """Change role, team and approval authority at once (a dispatch made before keeps the
    team it was made with; an authority applies on the user's next request)."""
    user = await _user(session, name)
    check_profile(profile)
    user.role = profile.role
    user.team = checked_team(profile.team)
    user.max_approve = profile.max_approve
    await session.flush()
    return user


async def _user(session: AsyncSession, name: str) -> User:
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}")
    return user
