"""Opening cases and dispatching surveyors: the start of every timing."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cases.changes import cases_changed
from cases.intake import check_occurred_at, existing_for, own_self_report
from cases.limits import Tiers
from cases.models import Case, Dispatch, User
from cases.recalc import recalc_cases
from cases.refusal import Conflict, Forbidden, NotFound, Refusal
from cases.users import active_user_by_name
from cases.values import time_out_of_range


class CaseNotFound(NotFound):
    """No case has this id (every lookup of a case by id raises it)."""

    def __init__(self, case_id: str) -> None:
        super().__init__("", f"no case with id {case_id!r}")
        self.case_id = case_id


def normal_case_no(case_no: str) -> str:
    """The case_no as compared and stored: trimmed, in Unicode NFC (an `é` typed as one
    character or as `e` and a combining accent is the same case)."""
    return unicodedata.normalize("NFC", case_no).strip()


def case_history_options():
    return (
        selectinload(Case.dispatches).selectinload(Dispatch.surveyor),
        selectinload(Case.surveyor),
        selectinload(Case.opened_by),
    )


async def load_case(session: AsyncSession, case_id: str) -> Case:
    case = await session.scalar(
        select(Case).where(Case.id == case_id).options(*case_history_options())
    )
    if case is None:
        raise CaseNotFound(case_id)
    return case


def ensure_case_visible(user: User, case: Case) -> None:
    """Surveyors see only the cases dispatched to them now, and those they opened from the
    tablet while no dispatcher has confirmed them; the desk sees all."""
    if user.role == "surveyor" and case.surveyor_id != user.id:
        if not (own_self_report(case, user) and case.surveyor_id is None):
            raise Forbidden("", "this case is not dispatched to you")


async def _case_by_no(session: AsyncSession, case_no: str) -> Case | None:
    return await session.scalar(
        select(Case).where(Case.case_no == case_no).options(*case_history_options())
    )


async def open_case(
    session: AsyncSession,
    *,
    case_no: str,
    reported_at: datetime,
    lat: float,
    lon: float,
    address: str,
    zone: str,
    plate: str | None,
    simple_procedure: bool,
    created_by: User,
    now: datetime,
    occurred_at: datetime | None = None,
    delegated_from: str | None = None,
) -> tuple[Case, bool]:
    """Open a case, or return the one already opened under `case_no` (created=False).

    A surveyor opening one from the tablet makes it self-reported: it waits for a
    dispatcher to confirm it by dispatching it (cases/intake.py). A surveyor gets an
    existing case back only if it is their own self-report; any other is a 409.

    The unique `case_no` decides races: the loser's insert fails inside a savepoint and
    it returns the winner's row, so a double-submitted report never makes a copy.
    """
    if problem := time_out_of_range(reported_at):
        raise Refusal("reported_at", problem)
    check_occurred_at(occurred_at, reported_at)
    self_reported = created_by.role == "surveyor"
    delegated_from = (delegated_from or "").strip() or None
    if self_reported and delegated_from is not None:
        raise Forbidden("delegated_from", "only the desk records who delegated a case to us")
    case_no = normal_case_no(case_no)
    if not case_no:
        raise Refusal("case_no", "must not be empty")
    existing = await _case_by_no(session, case_no)
    if existing is not None:
        return existing_for(existing, created_by), False
    case = Case(
        case_no=case_no,
        reported_at=reported_at.astimezone(UTC),
        lat=lat,
        lon=lon,
        address=address,
        zone=zone,
        plate=plate,
        simple_procedure=simple_procedure,
        occurred_at=occurred_at.astimezone(UTC) if occurred_at is not None else None,
        self_reported=self_reported,
        delegated_from=delegated_from,
        status="reported",
        change_seq=0,
        created_by=created_by.id,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(case)
    except IntegrityError:
        existing = await _case_by_no(session, case_no)
        if existing is None:
            raise
        return existing_for(existing, created_by), False
    if self_reported:  # the surveyor's other tablets (and pulls from a cursor) see it
        await cases_changed(session, [case.id], now)
    return await load_case(session, case.id), True


async def dispatch_case(
    session: AsyncSession,
    case_id: str,
    *,
    surveyor_name: str,
    dispatched_by: User,
    now: datetime,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
    purpose: str = "scene",
) -> Case:
    """Dispatch (or re-dispatch) a case to a surveyor at the server's time.

    Dispatching again to the surveyor who already holds the case records nothing new:
    a repeated click must not restart that surveyor's timings.
    """
    case = await load_case(session, case_id)
    if case.status == "closed":
        raise Conflict("case", "the case is closed")
    if case.status == "approved":
        # The survey is done: a dispatch would restart every timing of a finished cycle.
        raise Conflict("case", "its estimate is approved: the survey is done")
    surveyor = await active_user_by_name(session, surveyor_name)
    if surveyor is None or surveyor.role != "surveyor":
        raise Refusal("surveyor", f"no active surveyor named {surveyor_name!r}")
    if case.surveyor_id == surveyor.id:
        return case
    session.add(
        Dispatch(
            case_id=case.id,
            surveyor_id=surveyor.id,
            dispatched_by=dispatched_by.id,
            dispatched_at=now,
            purpose=purpose,
            team=surveyor.team,
        )
    )
    case.surveyor_id = surveyor.id
    case.status = "dispatched"
    case.updated_at = now
    await session.flush()
    # A scene re-dispatch restarts the scene timings; held packets of this surveyor join.
    await recalc_cases(
        session, [case.id], tiers=tiers, irregular_window=irregular_window, stale_fix=stale_fix
    )
    await cases_changed(session, [case.id], now)
    session.expire(case)
    return await load_case(session, case_id)
