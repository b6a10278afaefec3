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


class ReviewRequest(msgspec.Struct, kw_only=True):
    decision: Decision
    reason: Reason | None = None
    # What the surveyor is asked for on a return (photo / document categories).
    requested: Annotated[list[Category], msgspec.Meta(max_length=20)] = []


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
        "pull; 409 when the case has no estimate awaiting review.",
        responses=errors(400, 403, 404, 409),
    )
    async def review(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[ReviewRequest],
        cases: NamedDependency[CaseService],
    ) -> ReviewResult:
        outcome = await cases.review(
            str(case_id), decision=data.decision, reason=data.reason, requested=data.requested
        )
        return ReviewResult(
            case_id=str(case_id),
            review=review_view(outcome.review),
            timings=timing_views(outcome.timings),
        )
