"""The dispatcher's board (the first page after login): every open case, most urgent first,
its live rows (a fragment htmx swaps every few seconds, keeping the filters), the surveyors'
load, and the dispatcher's acts: open a case, dispatch or re-dispatch, delegate, close.

Each act calls the CaseService method the API calls; a refusal shows the page again with
its words beside the form (its status: 400, 403, 404, 409), never a JSON body."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from cases.refusal import Refusal
from cases.service import CaseService
from cases.users import list_users
from cases.values import PURPOSES, ZONES
from server.desk.board_forms import (
    close_request,
    delegate_request,
    dispatch_request,
    new_case,
)
from server.desk.board_view import CASE_STATES, TIMING_STATES, Filters, board_view
from server.desk.guards import desk
from server.desk.render import branch_zone, page
from server.routes.board import running_timing
from server.routes.cases import case_detail
from server.settings import Settings

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
# Any: a field sent twice comes as a list, read as its first value (never a JSON 400).
Form = Annotated[dict[str, Any], FORM]
DISPATCHER = [desk("dispatcher")]
DONE = ("opened", "existing", "dispatched", "delegated", "closed")
FILTERS_FORM = "board-filters"  # the id of the filter form (htmx sends it as HX-Trigger)


def _choices() -> dict[str, Any]:
    return {
        "zones": ZONES,
        "timing_states": TIMING_STATES,
        "case_states": CASE_STATES,
        "purposes": PURPOSES,
    }


def _done(request: Request) -> dict[str, str]:
    done = request.query_params.get("done")
    if done not in DONE:
        return {}
    return {"done": done, "done_case": (request.query_params.get("case") or "")[:64]}


async def _board(
    request: Request,
    cases: CaseService,
    template: str,
    *,
    status: int = 200,
    filters: Filters | None = None,
    **context: Any,
) -> Template:
    filters = filters or Filters.of(request.query_params)
    view = board_view(await cases.board(), filters)
    return page(
        request,
        template,
        status_code=status,
        view=view,
        filters=filters,
        load_minutes=int(cases.load.window.total_seconds() // 60),
        **_choices(),
        **context,
    )


@get("/board", guards=DISPATCHER, include_in_schema=False)
async def board_page(request: Request, cases: NamedDependency[CaseService]) -> Template:
    return await _board(request, cases, "board.html", **_done(request))


@get("/board/rows", guards=DISPATCHER, include_in_schema=False)
async def board_rows(request: Request, cases: NamedDependency[CaseService]) -> Template:
    """The live part of the board; a change of the filters also puts them in the URL bar."""
    response = await _board(request, cases, "board_rows.html")
    if request.headers.get("hx-trigger") == FILTERS_FORM:
        query = Filters.of(request.query_params).query
        response.headers["HX-Push-Url"] = "/board" + (f"?{query}" if query else "")
    return response


@post("/board/cases", guards=DISPATCHER, include_in_schema=False, status_code=303)
async def open_case_form(
    request: Request,
    data: Form,
    cases: NamedDependency[CaseService],
    settings: NamedDependency[Settings],
) -> Response:
    try:
        body = new_case(data, branch_zone(settings.desk_utc_offset_minutes))
        case, created = await cases.open(
            case_no=body.case_no,
            reported_at=body.reported_at,
            lat=body.location.lat,
            lon=body.location.lon,
            address=body.address,
            zone=body.zone,
            plate=body.plate,
            simple_procedure=body.simple_procedure,
            occurred_at=body.occurred_at,
            delegated_from=body.delegated_from,
        )
    except Refusal as refusal:
        await cases.session.rollback()
        return await _board(
            request,
            cases,
            "board.html",
            status=refusal.status,
            filters=Filters.of(dict(parse_qsl(_back(data.get("back"))))),
            open_error=refusal,
            values=data,
        )
    query = urlencode({"done": "opened" if created else "existing"})
    back = _back(data.get("back"))
    return Redirect(
        f"/board/cases/{case.id}?{back}&{query}" if back else f"/board/cases/{case.id}?{query}",
        status_code=303,
    )


async def _case_page(
    request: Request,
    cases: CaseService,
    db_session: AsyncSession,
    case_id: str,
    back: str,
    *,
    status: int = 200,
    **context: Any,
) -> Template:
    try:
        detail = await cases.read(case_id)
    except Refusal:
        raise NotFoundException("no such case") from None
    found = await cases.board()
    active = {u.name for u in await list_users(db_session) if u.revoked_at is None}
    surveyors = [s for s in found.surveyors if s.name in active]
    template = "board_panel.html" if request.headers.get("hx-request") else "board_case.html"
    return page(
        request,
        template,
        status_code=status,
        case=case_detail(cases.rules, detail),
        running=[running_timing(t, key) for t, key in detail.timings if t.end is None],
        surveyors=surveyors,
        back=back,
        **_choices(),
        **context,
    )


def _back(value: object) -> str:
    """The board's filters a form came from (sanitised like any query string)."""
    return Filters.of(dict(parse_qsl(value if isinstance(value, str) else ""))).query


@get("/board/cases/{case_id:uuid}", guards=DISPATCHER, include_in_schema=False)
async def case_actions(
    request: Request,
    case_id: FromPath[UUID],
    cases: NamedDependency[CaseService],
    db_session: NamedDependency[AsyncSession],
) -> Template:
    """Dispatch, re-dispatch, delegate and close one case (a panel beside the board)."""
    back = Filters.of(request.query_params).query
    return await _case_page(request, cases, db_session, str(case_id), back, **_done(request))


async def _act(
    request: Request,
    cases: CaseService,
    db_session: AsyncSession,
    case_id: str,
    data: dict[str, Any],
    form: str,
    act: Any,
) -> Response:
    back = _back(data.get("back"))
    try:
        detail = await act()
    except Refusal as refusal:
        await cases.session.rollback()
        return await _case_page(
            request,
            cases,
            db_session,
            case_id,
            back,
            status=refusal.status,
            errors={form: refusal},
            values=data,
        )
    query = urlencode({"done": form, "case": detail.case.case_no})
    return Redirect(f"/board?{back}&{query}" if back else f"/board?{query}", status_code=303)


@post("/board/cases/{case_id:uuid}/dispatch", guards=DISPATCHER, include_in_schema=False)
async def dispatch_form(
    request: Request,
    case_id: FromPath[UUID],
    data: Form,
    cases: NamedDependency[CaseService],
    db_session: NamedDependency[AsyncSession],
) -> Response:
    async def act():
        body = dispatch_request(data)
        return await cases.dispatch(str(case_id), body.surveyor, body.purpose)

    return await _act(request, cases, db_session, str(case_id), data, "dispatched", act)


@post("/board/cases/{case_id:uuid}/delegate", guards=DISPATCHER, include_in_schema=False)
async def delegate_form(
    request: Request,
    case_id: FromPath[UUID],
    data: Form,
    cases: NamedDependency[CaseService],
    db_session: NamedDependency[AsyncSession],
) -> Response:
    async def act():
        body = delegate_request(data)
        return await cases.delegate(str(case_id), body.to, body.reference)

    return await _act(request, cases, db_session, str(case_id), data, "delegated", act)


@post("/board/cases/{case_id:uuid}/close", guards=DISPATCHER, include_in_schema=False)
async def close_form(
    request: Request,
    case_id: FromPath[UUID],
    data: Form,
    cases: NamedDependency[CaseService],
    db_session: NamedDependency[AsyncSession],
) -> Response:
    async def act():
        return await cases.close(str(case_id), close_request(data).reason)

    return await _act(request, cases, db_session, str(case_id), data, "closed", act)


BOARD_ROUTES = [
    board_page,
    board_rows,
    open_case_form,
    case_actions,
    dispatch_form,
    delegate_form,
    close_form,
]
