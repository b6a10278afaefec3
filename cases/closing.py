"""The desk's acts on a case besides dispatch and review: delegating an out-of-town case
(外地委托), closing (结案) and reopening it.

A case closes once its estimate is approved, or earlier with a reason (the claim withdrawn or
rejected, a duplicate report). A closed case leaves the board and the tablets' first pull;
the change feed moves it, so a tablet that holds it hears once that it was closed. It stays
readable and in the reports. Every act is kept in `case_actions`, append-only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.changes import cases_changed
from cases.delegation import DELEGATED
from cases.dispatch import CaseNotFound, load_case
from cases.limits import Tiers
from cases.models import Case, CaseAction, Dispatch, User
from cases.recalc import recalc_cases
from cases.refusal import Conflict, Refusal


async def _locked(session: AsyncSession, case_id: str) -> Case:
    case = await session.scalar(select(Case).where(Case.id == case_id).with_for_update())
    if case is None:
        raise CaseNotFound(case_id)
    return case


async def close_case(
    session: AsyncSession, case_id: str, *, by: User, reason: str | None, now: datetime
) -> Case:
    """Close the case: allowed once approved, before that only with a reason."""
    case = await _locked(session, case_id)
    if case.status == "closed":
        raise Conflict("case", "the case is already closed")
    reason = (reason or "").strip() or None
    if case.status != "approved" and reason is None:
        raise Refusal(
            "reason",
            f"the case is {case.status}, not approved: closing it needs a reason "
            "(e.g. withdrawn, claim rejected)",
        )
    session.add(CaseAction(case_id=case.id, kind="closed", at=now, by_id=by.id, reason=reason))
    case.status = "closed"
    case.updated_at = now
    await session.flush()
    await cases_changed(session, [case.id], now)
    session.expire(case)
    return await load_case(session, case_id)


async def reopen_case(
    session: AsyncSession,
    case_id: str,
    *,
    by: User,
    reason: str | None,
    now: datetime,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
) -> Case:
    """Reopen a closed case: its status is derived from its log again."""
    case = await _locked(session, case_id)
    if case.status != "closed":
        raise Conflict("case", f"the case is not closed (it is {case.status})")
    session.add(
        CaseAction(
            case_id=case.id,
            kind="reopened",
            at=now,
            by_id=by.id,
            reason=(reason or "").strip() or None,
        )
    )
    dispatched = await session.scalar(select(Dispatch.id).where(Dispatch.case_id == case.id))
    case.status = "dispatched" if dispatched is not None else "reported"
    case.updated_at = now
    await session.flush()
    # The stage the log gives, from `dispatched`.
    await recalc_cases(
        session, [case.id], tiers=tiers, irregular_window=irregular_window, stale_fix=stale_fix
    )
    await cases_changed(session, [case.id], now)
    session.expire(case)
    return await load_case(session, case_id)


async def delegate_case(
    session: AsyncSession,
    case_id: str,
    *,
    by: User,
    to: str,
    reference: str | None,
    now: datetime,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
) -> Case:
    """Record that the out-of-town survey is arranged with `to` (their `reference`)."""
    case = await _locked(session, case_id)
    if case.zone != "out_of_town":
        raise Conflict("case", f"only out-of-town cases are delegated; this one is {case.zone}")
    if case.status == "closed":
        raise Conflict("case", "the case is closed")
    to = to.strip()
    if not to:
        raise Refusal("to", "must name who the survey is delegated to")
    held = await session.scalar(
        select(CaseAction.id).where(CaseAction.case_id == case.id, CaseAction.kind == DELEGATED)
    )
    if held is not None:
        raise Conflict("case", "the case is already delegated")
    session.add(
        CaseAction(
            case_id=case.id,
            kind=DELEGATED,
            at=now,
            by_id=by.id,
            target=to,
            reference=(reference or "").strip() or None,
        )
    )
    case.updated_at = now
    await session.flush()
    await recalc_cases(
        session, [case.id], tiers=tiers, irregular_window=irregular_window, stale_fix=stale_fix
    )
    await cases_changed(session, [case.id], now)
    session.expire(case)
    return await load_case(session, case_id)
