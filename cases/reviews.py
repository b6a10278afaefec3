"""Review (核损): approving or returning a case's latest estimate, and the queue of those
awaiting it. A return starts the `resubmit` timing; the next estimate ends it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.changes import cases_changed
from cases.dispatch import CaseNotFound
from cases.limits import Tiers
from cases.models import Case, CaseProgress, Review, User
from cases.recalc import recalc_cases
from cases.refusal import Conflict, Refusal
from cases.timeline import TimeRules


class QueueEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A case awaiting review, as the queue lists it (the wire type is this one)."""

    case_id: str
    case_no: str
    zone: str
    surveyor: str | None
    estimate_packet_id: str
    estimate_amount: float | None
    estimate_at: datetime
    photos: int
    documents: int


async def review_case(
    session: AsyncSession,
    case_id: str,
    *,
    reviewer: User,
    decision: str,
    reason: str | None,
    requested: Sequence[str],
    now: datetime,
    rules: TimeRules,
    tiers: Tiers,
) -> Review:
    """Record a decision on the latest estimate, recalculate, and move the case in the feed
    (a return reaches the surveyor's tablet through pull)."""
    if decision == "returned" and not (reason or "").strip():
        raise Refusal("reason", "a return must say why")
    if decision == "approved" and requested:
        raise Refusal("requested", "only a return asks for more")
    case = await session.scalar(select(Case).where(Case.id == case_id).with_for_update())
    if case is None:
        raise CaseNotFound(case_id)
    # Recalculate first so the decision is about the latest estimate the log holds.
    await recalc_cases(session, [case_id], rules=rules, tiers=tiers)
    progress = await session.get(CaseProgress, case_id, populate_existing=True)
    if progress is None or progress.estimate_packet_id is None or not progress.awaiting_review:
        raise Conflict("case", "no estimate awaits review")
    review = Review(
        case_id=case_id,
        reviewer_id=reviewer.id,
        decision=decision,
        reason=reason,
        requested=",".join(dict.fromkeys(requested)),
        estimate_packet_id=progress.estimate_packet_id,
        reviewed_at=now,
    )
    session.add(review)
    case.status = decision
    case.updated_at = now
    await session.flush()
    await recalc_cases(session, [case_id], rules=rules, tiers=tiers)
    await cases_changed(session, [case_id], now)
    return review


async def latest_reviews(session: AsyncSession, case_ids: Collection[str]) -> dict[str, Review]:
    """The latest review of each of these cases (what a tablet is told on pull)."""
    ids = list(set(case_ids))
    if not ids:
        return {}
    latest: dict[str, Review] = {}
    for review in await session.scalars(
        select(Review).where(Review.case_id.in_(ids)).order_by(Review.case_id, Review.id)
    ):
        latest[review.case_id] = review
    return latest


async def review_queue(session: AsyncSession, *, limit: int, offset: int) -> list[QueueEntry]:
    """Cases whose latest estimate awaits review, oldest estimate first."""
    rows = await session.execute(
        select(CaseProgress, Case.case_no, Case.zone, User.name)
        .join(Case, Case.id == CaseProgress.case_id)
        .outerjoin(User, User.id == Case.surveyor_id)
        .where(CaseProgress.awaiting_review.is_(True), Case.status != "closed")
        .order_by(CaseProgress.estimate_at, CaseProgress.case_id)
        .limit(limit)
        .offset(offset)
    )
    return [
        QueueEntry(
            case_id=progress.case_id,
            case_no=case_no,
            zone=zone,
            surveyor=surveyor,
            estimate_packet_id=progress.estimate_packet_id,
            estimate_amount=progress.estimate_amount,
            estimate_at=progress.estimate_at,
            photos=progress.photos,
            documents=progress.documents,
        )
        for progress, case_no, zone, surveyor in rows
    ]
