"""Review (reviewer): the queue of estimates awaiting review, and the decision on one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_409_CONFLICT
from sqlalchemy.ext.asyncio import AsyncSession

from cases.clock import Clock
from cases.limits import Limits
from cases.models import User
from cases.recalc import case_computed
from cases.reviews import NothingToReview, ReviewError, review_case, review_queue
from cases.values import Reason
from server.auth import roles
from server.errors import FieldError
from server.openapi import errors
from server.routes.timing_views import ReviewView, TimingView, review_view, timing_views
from sync.packets import Category


class ReviewRequest(msgspec.Struct, kw_only=True):
    decision: Literal["approved", "returned"]
    reason: Reason | None = None
    # What the surveyor is asked for on a return (photo / document categories).
    requested: Annotated[list[Category], msgspec.Meta(max_length=20)] = []


class ReviewResult(msgspec.Struct, kw_only=True):
    case_id: str
    review: ReviewView
    timings: list[TimingView]


class QueueEntry(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    zone: str
    surveyor: str | None
    estimate_packet_id: str
    estimate_amount: float | None
    estimate_at: datetime
    photos: int
    documents: int


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
        db_session: NamedDependency[AsyncSession],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    ) -> QueueResponse:
        items = await review_queue(db_session, limit=limit, offset=offset)
        return QueueResponse([QueueEntry(**item.__dict__) for item in items])

    @post(
        "/cases/{case_id:uuid}/review",
        guards=[roles("reviewer")],
        status_code=200,
        summary="Approve or return (退回) the case's latest estimate",
        description="A return starts the `resubmit` timing and reaches the tablet through "
        "pull; 409 when the case has no estimate awaiting review.",
        raises=[FieldError],
        responses=errors(400, 403, 404, 409),
    )
    async def review(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[ReviewRequest],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        clock: NamedDependency[Clock],
        limits: NamedDependency[Limits],
    ) -> ReviewResult:
        now = clock.now()
        try:
            review = await review_case(
                db_session,
                str(case_id),
                reviewer=user,
                decision=data.decision,
                reason=data.reason,
                requested=data.requested,
                now=now,
            )
        except ReviewError as exc:
            raise FieldError(exc.field, str(exc)) from None
        except NothingToReview:
            raise HTTPException(
                status_code=HTTP_409_CONFLICT, detail="case: no estimate awaits review"
            ) from None
        computed = await case_computed(db_session, str(case_id))
        assert computed is not None
        return ReviewResult(
            case_id=str(case_id),
            review=review_view(review),
            timings=timing_views(computed.measures, limits, now),
        )
