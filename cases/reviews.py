"""Review (核损): approving or returning a case's latest estimate, and the queue of those
awaiting it. A return starts the `resubmit` timing; the next estimate ends it.

An approval records the amount approved (核定): the estimate's, or less (核减), never more.
A reviewer approves within their authority (`users.max_approve`, yuan; None: no limit): an
approval above it is refused (403), and the case waits in the queue, flagged for each
reviewer, for one who holds it (超权限). A return is allowed whatever the amount."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.changes import cases_changed
from cases.dispatch import CaseNotFound
from cases.limits import Tiers
from cases.models import Case, CaseProgress, Review, User
from cases.recalc import recalc_cases
from cases.refusal import Conflict, Forbidden, Refusal


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
    # The authority an approval as submitted needs (the estimate's amount, yuan).
    authority_required: float | None
    # Whether the reviewer asking may approve it as submitted (their max_approve).
    within_authority: bool


def yuan(amount: float) -> str:
    """62000.0 -> "62,000"; 1234.5 -> "1,234.50"."""
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


def within_authority(reviewer: User, amount: float | None) -> bool:
    return reviewer.max_approve is None or amount is None or amount <= reviewer.max_approve


def amount_approved(
    reviewer: User, decision: str, approved_amount: float | None, estimate_amount: float | None
) -> float | None:
    """The amount a decision approves (None on a return), refused when it is given on a
    return, raises the estimate, or exceeds the reviewer's authority."""
    if decision != "approved":
        if approved_amount is not None:
            raise Refusal("approved_amount", "only an approval carries an approved amount")
        return None
    amount = estimate_amount if approved_amount is None else approved_amount
    if approved_amount is not None and estimate_amount is not None:
        if approved_amount > estimate_amount:
            raise Refusal(
                "approved_amount",
                f"{yuan(approved_amount)} yuan is above the estimate of "
                f"{yuan(estimate_amount)} yuan: a review reduces, never raises",
            )
    # Authority follows the case (the estimate under review), not the amount approved: a
    # cut must not bring a case above someone's authority within it (超权限 goes up).
    if not within_authority(reviewer, estimate_amount):
        assert estimate_amount is not None and reviewer.max_approve is not None
        raise Forbidden(
            "approved_amount",
            f"approval of {yuan(estimate_amount)} yuan exceeds your authority of "
            f"{yuan(reviewer.max_approve)} yuan (max_approve)",
        )
    return amount


async def review_case(
    session: AsyncSession,
    case_id: str,
    *,
    reviewer: User,
    decision: str,
    reason: str | None,
    requested: Sequence[str],
    now: datetime,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
    approved_amount: float | None = None,
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
    await recalc_cases(
        session, [case_id], tiers=tiers, irregular_window=irregular_window, stale_fix=stale_fix
    )
    progress = await session.get(CaseProgress, case_id, populate_existing=True)
    if progress is None or progress.estimate_packet_id is None or not progress.awaiting_review:
        raise Conflict("case", "no estimate awaits review")
    amount = amount_approved(reviewer, decision, approved_amount, progress.estimate_amount)
    review = Review(
        case_id=case_id,
        reviewer_id=reviewer.id,
        decision=decision,
        reason=reason,
        requested=",".join(dict.fromkeys(requested)),
        estimate_packet_id=progress.estimate_packet_id,
        reviewed_at=now,
        approved_amount=amount,
    )
    session.add(review)
    case.status = decision
    case.updated_at = now
    await session.flush()
    await recalc_cases(
        session, [case_id], tiers=tiers, irregular_window=irregular_window, stale_fix=stale_fix
    )
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


async def review_queue(
    session: AsyncSession, *, reviewer: User, limit: int, offset: int
) -> list[QueueEntry]:
    """Cases whose latest estimate awaits review, oldest estimate first, each flagged by
    whether `reviewer` may approve it as submitted."""
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
            authority_required=progress.estimate_amount,
            within_authority=within_authority(reviewer, progress.estimate_amount),
        )
        for progress, case_no, zone, surveyor in rows
    ]
