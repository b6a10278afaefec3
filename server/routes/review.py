"""Review (reviewer): the queue of estimates awaiting review, and the decision on one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from cases.reviews import QueueEntry
from cases.service import CaseService
from cases.values import Decision, Reason
from server.auth import roles
from server.openapi import errors
from server.routes.timing_views import ReviewView, TimingView, review_view, timing_views
from sync.packets import Category

ApprovedAmount = Annotated[
    float,
    msgspec.Meta(
        ge=0,
        le=1e12,
        description="yuan approved (核定), at most the estimate; only on an approval",
    ),
]


class ReviewRequest(msgspec.Struct, kw_only=True):
    decision: Decision
    reason: Reason | None = None
    # What the surveyor is asked for on a return (photo / document categories).
    requested: Annotated[list[Category], msgspec.Meta(max_length=20)] = []
    # On an approval: the amount approved in yuan, at most the estimate's (the gap is the
    # reduction, 核减); omitted, the estimate's amount as submitted. Not on a return.
    approved_amount: ApprovedAmount | None = None


class ReviewResult(msgspec.Struct, kw_only=True):
    case_id: str
    review: ReviewView
    timings: list[TimingView]


class QueueResponse(msgspec.Struct):
    cases: list[QueueEntry]


class ReviewController(Controller):
    path = "/v1"
    tags = ["review"]

    @get(
        "/review/queue",
        guards=[roles("reviewer")],
        summary="Cases whose latest estimate awaits review, oldest estimate first",
        description="Each case says the authority an approval as submitted needs "
        "(`authority_required`) and whether the caller holds it (`within_authority`).",
        responses=errors(400, 403),
    )
    async def queue(
        self,
        cases: NamedDependency[CaseService],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    ) -> QueueResponse:
        items = await cases.review_queue(limit=limit, offset=offset)
        return QueueResponse(items)

    @post(
        "/cases/{case_id:uuid}/review",
        guards=[roles("reviewer")],
        status_code=200,
        summary="Approve or return (退回) the case's latest estimate",
        description="A return starts the `resubmit` timing and reaches the tablet through "
        "pull; 409 when the case has no estimate awaiting review. An approval may carry "
        "`approved_amount` (at most the estimate: 400 above it or on a return); one above "
        "the reviewer's authority (`max_approve`) is 403 naming the limit, nothing stored.",
        responses=errors(400, 403, 404, 409),
    )
    async def review(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[ReviewRequest],
        cases: NamedDependency[CaseService],
    ) -> ReviewResult:
        outcome = await cases.review(
            str(case_id),
            decision=data.decision,
            reason=data.reason,
            requested=data.requested,
            approved_amount=data.approved_amount,
        )
        return ReviewResult(
            case_id=str(case_id),
            review=review_view(outcome.review),
            timings=timing_views(outcome.timings),
        )
