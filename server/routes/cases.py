"""Cases and dispatch (dispatcher): open a case, dispatch a surveyor, read it back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from cases.clock import Clock
from cases.dispatch import CaseNoError, DispatchError, dispatch_case, load_case, open_case
from cases.limits import Limits
from cases.models import Case, Review, User
from cases.recalc import case_computed
from cases.reviews import latest_reviews
from cases.values import Address, AwareTime, CaseNo, Location, Plate, UserName, time_out_of_range
from server.auth import roles
from server.errors import FieldError
from server.openapi import errors
from server.routes.timing_views import (
    EventView,
    ReviewView,
    TimingView,
    event_view,
    review_view,
    timing_views,
)

Zone = Literal["city", "suburban", "out_of_town"]


class NewCase(msgspec.Struct, kw_only=True):
    case_no: CaseNo
    reported_at: AwareTime
    location: Location
    address: Address
    zone: Zone
    plate: Plate | None = None
    simple_procedure: bool = False


class DispatchRequest(msgspec.Struct):
    surveyor: UserName


class DispatchView(msgspec.Struct):
    surveyor: str
    dispatched_at: datetime


class CaseView(msgspec.Struct, kw_only=True):
    id: str
    case_no: str
    reported_at: datetime
    location: Location
    address: str
    zone: Zone
    plate: str | None
    simple_procedure: bool
    status: str
    surveyor: str | None
    dispatches: list[DispatchView]
    created_at: datetime
    updated_at: datetime
    # The ordered timeline and the timings measured from it (filled by GET and dispatch).
    events: list[EventView] = []
    timings: list[TimingView] = []
    # The latest review: a return tells the tablet what is asked for.
    review: ReviewView | None = None


async def case_detail(session: AsyncSession, case: Case, limits: Limits, now: datetime) -> CaseView:
    """The case with its timeline, timings (by the server's clock) and latest review."""
    view = case_view(case)
    computed = await case_computed(session, case.id)
    if computed is not None:
        last = len(computed.log.dispatches) - 1 if computed.log.dispatches else None
        view.events = [event_view(e, last) for e in computed.timeline]
        view.timings = timing_views(computed.measures, limits, now)
    review = (await latest_reviews(session, [case.id])).get(case.id)
    view.review = review_view(review) if review is not None else None
    return view


def case_view(case: Case, review: Review | None = None) -> CaseView:
    """The case as stored; `review` (its latest) tells a tablet what a return asks for."""
    return CaseView(
        id=case.id,
        case_no=case.case_no,
        reported_at=case.reported_at,
        location=Location(lat=case.lat, lon=case.lon),
        address=case.address,
        zone=case.zone,  # type: ignore[arg-type]
        plate=case.plate,
        simple_procedure=case.simple_procedure,
        status=case.status,
        surveyor=case.surveyor.name if case.surveyor else None,
        dispatches=[
            DispatchView(surveyor=d.surveyor.name, dispatched_at=d.dispatched_at)
            for d in case.dispatches
        ],
        created_at=case.created_at,
        updated_at=case.updated_at,
        review=review_view(review) if review is not None else None,
    )


def ensure_case_visible(user: NamedDependency[User], case: Case) -> None:
    """Surveyors see only the cases dispatched to them now; the desk sees all."""
    if user.role == "surveyor" and case.surveyor_id != user.id:
        raise PermissionDeniedException("this case is not dispatched to you")


class CaseController(Controller):
    path = "/v1/cases"
    tags = ["cases"]

    @post(
        "/",
        guards=[roles("dispatcher")],
        status_code=201,
        summary="Open a case (idempotent on case_no)",
        responses={
            200: ResponseSpec(
                CaseView, description="A case with this case_no exists", generate_examples=False
            ),
            **errors(400, 403),
        },
    )
    async def open(
        self,
        data: JSONBody[NewCase],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        clock: NamedDependency[Clock],
    ) -> Response[CaseView]:
        if problem := time_out_of_range(data.reported_at):
            raise FieldError("reported_at", problem)
        try:
            case, created = await open_case(
                db_session,
                case_no=data.case_no,
                reported_at=data.reported_at,
                lat=data.location.lat,
                lon=data.location.lon,
                address=data.address,
                zone=data.zone,
                plate=data.plate,
                simple_procedure=data.simple_procedure,
                created_by=user,
                now=clock.now(),
            )
        except CaseNoError as exc:
            raise FieldError("case_no", str(exc)) from None
        return Response(case_view(case), status_code=201 if created else 200)

    @post(
        "/{case_id:uuid}/dispatch",
        guards=[roles("dispatcher")],
        status_code=200,
        summary="Dispatch or re-dispatch a surveyor at the server's time",
        responses=errors(400, 403, 404, 409),
    )
    async def dispatch(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[DispatchRequest],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        clock: NamedDependency[Clock],
        limits: NamedDependency[Limits],
    ) -> CaseView:
        try:
            case = await dispatch_case(
                db_session,
                str(case_id),
                surveyor_name=data.surveyor,
                dispatched_by=user,
                now=clock.now(),
            )
        except DispatchError as exc:
            raise FieldError(exc.field, str(exc), 409 if exc.field == "case" else 400) from None
        return await case_detail(db_session, case, limits, clock.now())

    @get(
        "/{case_id:uuid}",
        summary="A case with its dispatch history, timeline and timings",
        responses=errors(400, 403, 404),
    )
    async def read(
        self,
        case_id: FromPath[UUID],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        clock: NamedDependency[Clock],
        limits: NamedDependency[Limits],
    ) -> CaseView:
        case = await load_case(db_session, str(case_id))
        ensure_case_visible(user, case)
        return await case_detail(db_session, case, limits, clock.now())
