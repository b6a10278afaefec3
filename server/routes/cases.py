"""Cases and dispatch (dispatcher): open a case, dispatch a surveyor, read it back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from cases.dispatch import ensure_case_visible as ensure_case_visible  # for media's routes
from cases.intake import IntakeRules, awaiting_confirmation, is_late_report
from cases.models import Case, Review
from cases.search import MAX_LIMIT, MAX_OFFSET, STATES, case_query
from cases.service import CaseDetail, CaseService
from cases.values import (
    NO_NUL,
    Address,
    AwareTime,
    CaseNo,
    Location,
    Plate,
    Purpose,
    Reason,
    UserName,
    Zone,
)
from server.auth import roles
from server.desk.render import branch_zone
from server.openapi import errors
from server.routes.timing_views import (
    EventView,
    ReviewView,
    TimingView,
    event_view,
    review_view,
    timing_views,
    wire,
)
from server.settings import Settings


class NewCase(msgspec.Struct, kw_only=True):
    case_no: CaseNo
    reported_at: AwareTime
    location: Location
    address: Address
    zone: Zone
    plate: Plate | None = None
    simple_procedure: bool = False
    # When the accident happened, if known (not after reported_at): 延时报案 is judged by it.
    occurred_at: AwareTime | None = None
    # The branch or insurer that delegated this case to us (a delegated-in case); desk only.
    delegated_from: Annotated[str, msgspec.Meta(max_length=200, pattern=NO_NUL)] | None = None


class DispatchRequest(msgspec.Struct):
    surveyor: UserName
    # scene (default), estimate (handover to the large-case team or a shop), resurvey,
    # documents (上门收单): only a scene dispatch restarts accept/contact/arrival.
    purpose: Purpose = "scene"


class CloseRequest(msgspec.Struct):
    # Needed unless the case is approved: why it closes (withdrawn, claim rejected, ...).
    reason: Reason | None = None


class DelegateRequest(msgspec.Struct):
    # Who surveys for us (another branch or insurer), and their reference for the case.
    to: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
    reference: Annotated[str, msgspec.Meta(max_length=200, pattern=NO_NUL)] | None = None


class ReopenRequest(msgspec.Struct):
    reason: Reason | None = None


class DispatchView(msgspec.Struct):
    surveyor: str
    dispatched_at: datetime
    purpose: Purpose = "scene"


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
    # The accident time, if known, and whether the report came late after it (延时报案:
    # more than KANCHA_LATE_REPORT_SECONDS; false when occurred_at is unknown).
    occurred_at: datetime | None = None
    late_report: bool = False
    # Delegated to us by another branch or insurer (外地委托 received), and by whom.
    delegated_in: bool = False
    delegated_from: str | None = None
    # Opened by a surveyor from the tablet (`reported_by`); awaiting_confirmation until a
    # dispatcher confirms it by dispatching it.
    self_reported: bool = False
    reported_by: str | None = None
    awaiting_confirmation: bool = False


class CaseSummary(msgspec.Struct, kw_only=True):
    id: str
    case_no: str
    plate: str | None
    reported_at: datetime
    occurred_at: datetime | None
    zone: Zone
    address: str
    status: str
    # The surveyor holding the case now (None before any dispatch).
    surveyor: str | None
    simple_procedure: bool
    late_report: bool
    self_reported: bool
    awaiting_confirmation: bool
    delegated_in: bool
    updated_at: datetime


class CaseList(msgspec.Struct, kw_only=True):
    # How many cases match in all; `items` is the page [offset, offset + limit).
    total: int
    limit: int
    offset: int
    items: list[CaseSummary]


def case_summary(case: Case, rules: IntakeRules) -> CaseSummary:
    return wire(
        case,
        CaseSummary,
        surveyor=case.surveyor.name if case.surveyor else None,
        late_report=is_late_report(case.reported_at, case.occurred_at, rules.late_report),
        self_reported=bool(case.self_reported),
        awaiting_confirmation=awaiting_confirmation(
            bool(case.self_reported), case.surveyor_id, case.status
        ),
        delegated_in=case.delegated_from is not None,
    )


def _text_param(max_length: int, description: str):
    return QueryParameter(max_length=max_length, description=description)


PERIOD = (
    "an RFC 3339 time with offset, or a date YYYY-MM-DD in the branch's time zone "
    "(KANCHA_DESK_UTC_OFFSET_MINUTES)"
)


def case_detail(rules: IntakeRules, detail: CaseDetail) -> CaseView:
    """The case with its timeline, timings (by the server's clock) and latest review."""
    view = case_view(detail.case, rules, detail.review)
    view.events = [event_view(e, detail.current_dispatch) for e in detail.events]
    view.timings = timing_views(detail.timings)
    return view


def case_view(case: Case, rules: IntakeRules, review: Review | None = None) -> CaseView:
    """The case as stored; `review` (its latest) tells a tablet what a return asks for;
    `rules` say when a report is late."""
    return wire(
        case,
        CaseView,
        location=Location(lat=case.lat, lon=case.lon),
        surveyor=case.surveyor.name if case.surveyor else None,
        dispatches=[wire(d, DispatchView, surveyor=d.surveyor.name) for d in case.dispatches],
        review=review_view(review) if review is not None else None,
        late_report=is_late_report(case.reported_at, case.occurred_at, rules.late_report),
        delegated_in=case.delegated_from is not None,
        self_reported=bool(case.self_reported),
        reported_by=case.opened_by.name if case.self_reported else None,
        awaiting_confirmation=awaiting_confirmation(
            bool(case.self_reported), case.surveyor_id, case.status
        ),
    )


class CaseController(Controller):
    path = "/v1/cases"
    tags = ["cases"]

    @post(
        "/",
        guards=[roles("dispatcher", "surveyor")],
        status_code=201,
        summary="Open a case (idempotent on case_no); by a surveyor: self-reported",
        description=(
            "A surveyor may open a case from the tablet when no dispatch exists: it is "
            "`self_reported` and `awaiting_confirmation` (on the board and in their pull) "
            "until a dispatcher confirms it by dispatching it to them; their packets for it "
            "are `held` and join the timeline at that dispatch (within the irregular "
            "window). A surveyor posting a case_no that exists gets it back (200) only if "
            "it is their own self-report, else 409."
        ),
        responses={
            200: ResponseSpec(
                CaseView, description="A case with this case_no exists", generate_examples=False
            ),
            **errors(400, 403, 409),
        },
    )
    async def open(
        self,
        data: JSONBody[NewCase],
        cases: NamedDependency[CaseService],
    ) -> Response[CaseView]:
        case, created = await cases.open(
            case_no=data.case_no,
            reported_at=data.reported_at,
            lat=data.location.lat,
            lon=data.location.lon,
            address=data.address,
            zone=data.zone,
            plate=data.plate,
            simple_procedure=data.simple_procedure,
            occurred_at=data.occurred_at,
            delegated_from=data.delegated_from,
        )
        return Response(case_view(case, cases.rules), status_code=201 if created else 200)

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
        cases: NamedDependency[CaseService],
    ) -> CaseView:
        return case_detail(
            cases.rules, await cases.dispatch(str(case_id), data.surveyor, data.purpose)
        )

    @post(
        "/{case_id:uuid}/close",
        guards=[roles("dispatcher")],
        status_code=200,
        summary="Close a case (once approved, or with a reason); it leaves board and pull",
        responses=errors(400, 403, 404, 409),
    )
    async def close(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[CloseRequest],
        cases: NamedDependency[CaseService],
    ) -> CaseView:
        return case_detail(cases.rules, await cases.close(str(case_id), data.reason))

    @post(
        "/{case_id:uuid}/delegate",
        guards=[roles("dispatcher")],
        status_code=200,
        summary="Record the delegated survey of an out-of-town case (ends `delegation`)",
        responses=errors(400, 403, 404, 409),
    )
    async def delegate(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[DelegateRequest],
        cases: NamedDependency[CaseService],
    ) -> CaseView:
        return case_detail(cases.rules, await cases.delegate(str(case_id), data.to, data.reference))

    @post(
        "/{case_id:uuid}/reopen",
        guards=[roles("dispatcher")],
        status_code=200,
        summary="Reopen a closed case",
        responses=errors(400, 403, 404, 409),
    )
    async def reopen(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[ReopenRequest],
        cases: NamedDependency[CaseService],
    ) -> CaseView:
        return case_detail(cases.rules, await cases.reopen(str(case_id), data.reason))

    @get(
        "/",
        guards=[roles("dispatcher", "reviewer", "surveyor")],
        summary="Find cases by case number, plate, surveyor, state and report period, paged",
        description=(
            "Latest report first. `case_no` and `plate` match a part of the value, ASCII "
            "letters in either case; `surveyor` is the user name of the surveyor holding the "
            "case now; `state` one of " + ", ".join(STATES) + " (`open`: any but closed); "
            "`from` and `to` bound `reported_at` in [from, to) (a date `to` includes that "
            "day). A surveyor finds only their own cases. `total` counts every match."
        ),
        responses=errors(400, 403),
    )
    async def search(
        self,
        cases: NamedDependency[CaseService],
        settings: NamedDependency[Settings],
        case_no: Annotated[str | None, _text_param(200, "a part of the case number")] = None,
        plate: Annotated[str | None, _text_param(200, "a part of the plate")] = None,
        surveyor: Annotated[str | None, _text_param(200, "the surveyor's user name")] = None,
        state_: Annotated[
            str | None,
            QueryParameter(name="state", max_length=20, description="one of " + ", ".join(STATES)),
        ] = None,
        from_: Annotated[
            str | None, QueryParameter(name="from", max_length=64, description=PERIOD)
        ] = None,
        to: Annotated[str | None, _text_param(64, PERIOD)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> CaseList:
        params = {"case_no": case_no, "plate": plate, "surveyor": surveyor, "state": state_}
        params |= {"from": from_, "to": to, "limit": str(limit), "offset": str(offset)}
        query = case_query(params, branch_zone(settings.desk_utc_offset_minutes))
        hits = await cases.search(query)
        items = [case_summary(case, cases.rules) for case in hits.cases]
        return CaseList(total=hits.total, limit=query.limit, offset=query.offset, items=items)

    @get(
        "/{case_id:uuid}",
        summary="A case with its dispatch history, timeline and timings",
        responses=errors(400, 403, 404),
    )
    async def read(self, case_id: FromPath[UUID], cases: NamedDependency[CaseService]) -> CaseView:
        return case_detail(cases.rules, await cases.read(str(case_id)))
