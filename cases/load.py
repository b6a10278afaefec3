"""Each surveyor's load, for the board: the open cases they hold, the cases given to them
lately, and whether that is more than one surveyor can take (domain.md: the dispatcher calls
in the backup group, 备用组, when one surveyor gets several reports in a short time)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.board import BoardCase
from cases.models import Dispatch, SurveyorPosition, User


@dataclass(frozen=True)
class LoadPolicy:
    """`warn_count` cases or more dispatched to one surveyor within `window`: needs backup."""

    window: timedelta = timedelta(hours=1)
    warn_count: int = 3


@dataclass
class SurveyorLoad:
    name: str
    team: str | None
    position: SurveyorPosition | None
    # Open cases (those on the board) the surveyor holds now, by case number.
    open_case_ids: list[str] = field(default_factory=list)
    # Cases dispatched to them within the window (whoever holds them now).
    new_case_ids: list[str] = field(default_factory=list)
    needs_backup: bool = False

    @property
    def open_cases(self) -> int:
        return len(self.open_case_ids)

    @property
    def new_reports(self) -> int:
        return len(self.new_case_ids)


async def surveyor_loads(
    session: AsyncSession, board: list[BoardCase], policy: LoadPolicy, now: datetime
) -> list[SurveyorLoad]:
    """Every active surveyor, and any revoked one still holding an open case, by name."""
    holding: dict[int, list[BoardCase]] = defaultdict(list)
    for case in sorted(board, key=lambda c: c.case_no):
        if case.surveyor_id is not None:
            holding[case.surveyor_id].append(case)
    given: dict[int, list[str]] = defaultdict(list)
    recent = await session.execute(
        select(Dispatch.surveyor_id, Dispatch.case_id)
        .where(Dispatch.dispatched_at > now - policy.window, Dispatch.dispatched_at <= now)
        .order_by(Dispatch.id)
    )
    for surveyor_id, case_id in recent:
        if case_id not in given[surveyor_id]:
            given[surveyor_id].append(case_id)
    users = await session.execute(
        select(User, SurveyorPosition)
        .outerjoin(SurveyorPosition, SurveyorPosition.surveyor_id == User.id)
        .where(User.role == "surveyor")
        .order_by(User.name)
    )
    loads = []
    for user, position in users:
        if user.revoked_at is not None and user.id not in holding:
            continue
        load = SurveyorLoad(
            name=user.name,
            team=user.team,
            position=position,
            open_case_ids=[c.case_id for c in holding.get(user.id, [])],
            new_case_ids=given.get(user.id, []),
        )
        load.needs_backup = load.new_reports >= policy.warn_count
        loads.append(load)
    return loads
