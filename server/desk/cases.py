"""The case list (search, paged) and the case page (timeline, packets apart, timings,
gallery, checklist, map): thin handlers over CaseService, the media service and sync's
packets apart, like the API's routes."""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cases.rates import REQUIRED_ON_SITE, missing_documents
from cases.refusal import Refusal
from cases.search import STATES, case_query
from cases.service import CaseDetail, CaseService
from cases.timeline import CaseFacts
from cases.users import list_users
from media.service import MediaService
from server.desk.case_map import CaseMap, MapPoint, case_map
from server.desk.guards import desk
from server.desk.render import branch_zone, page
from server.routes.cases import case_summary
from server.routes.media import MediaItem, media_item
from server.routes.timing_views import timing_views
from server.settings import Settings
from sync.case_packets import case_packets_apart

FIELDS = ("case_no", "plate", "surveyor", "state", "from", "to")
PAGE = 25
DESK = desk("dispatcher", "reviewer")
MAP_KINDS = {"arrived": "arrival", "position": "position"}


def _link(params: dict[str, str], offset: int) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "/cases?" + urlencode({**kept, "offset": offset})


@get("/cases", guards=[DESK], include_in_schema=False)
async def cases_list(
    request: Request,
    cases: NamedDependency[CaseService],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
) -> Template:
    form = {name: request.query_params.get(name) or "" for name in FIELDS}
    users = await list_users(db_session)
    surveyors = [u.name for u in users if u.role == "surveyor" and u.revoked_at is None]
    params: dict[str, str | None] = {**form, "offset": request.query_params.get("offset")}
    params["limit"] = request.query_params.get("limit")
    context = {"form": form, "states": STATES, "surveyors": surveyors, "error": None}
    context["hits"] = None
    try:
        query = case_query(params, branch_zone(settings.desk_utc_offset_minutes), PAGE)
    except Refusal as refused:
        return page(request, "cases.html", status_code=400, **(context | {"error": refused}))
    hits = await cases.search(query)
    rows = [case_summary(case, cases.rules) for case in hits.cases]
    shown = (query.offset + 1, query.offset + len(rows))
    before = _link(form, max(0, query.offset - query.limit)) if query.offset > 0 else None
    more = query.offset + query.limit < hits.total
    after = _link(form, query.offset + query.limit) if more else None
    found = {"hits": hits, "rows": rows, "shown": shown, "previous": before, "next": after}
    return page(request, "cases.html", **(context | found))


def checklist(detail: CaseDetail) -> list[tuple[str, bool]] | None:
    """Each required on-site document and whether it is missing (None: no checklist)."""
    case = detail.case
    if not case.simple_procedure:
        return None
    facts = CaseFacts(case.lat, case.lon, case.reported_at, case.zone, case.simple_procedure)
    last = detail.current_dispatch if detail.current_dispatch is not None else -1
    missing = set(missing_documents(facts, detail.events, last))
    if last < 0:
        missing = set(REQUIRED_ON_SITE)
    return [(name, name in missing) for name in sorted(REQUIRED_ON_SITE)]


def map_of(detail: CaseDetail, items: list[MediaItem], tile_url: str) -> CaseMap:
    case = detail.case
    others = [
        MapPoint(MAP_KINDS.get(e.kind, "event"), e.lat, e.lon, e.kind, e.time)
        for e in detail.events
        if e.lat is not None and e.lon is not None
    ]
    others += [
        MapPoint("photo", i.gps.lat, i.gps.lon, i.category or "other", i.taken_at)
        for i in items
        if i.gps is not None
    ]
    return case_map(MapPoint("scene", case.lat, case.lon, case.address), others, tile_url)


async def _case(cases: CaseService, case_id: UUID) -> CaseDetail | Refusal:
    try:
        return await cases.read(str(case_id))
    except Refusal as refused:
        return refused


def _refused(request: Request, refused: Refusal) -> Template:
    context = {"status": refused.status, "message": refused.message, "detail": None}
    return page(request, "error.html", status_code=refused.status, **context)


@get("/cases/{case_id:uuid}", guards=[DESK], include_in_schema=False)
async def case_page(
    request: Request,
    case_id: FromPath[UUID],
    cases: NamedDependency[CaseService],
    media: NamedDependency[MediaService],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Template:
    detail = await _case(cases, case_id)
    if isinstance(detail, Refusal):
        return _refused(request, detail)
    listing = await media.case_media(detail.case)
    items = [media_item(item) for item in listing.items]
    in_timeline = {event.packet_id for event in detail.events}
    names = {d.surveyor_id: d.surveyor.name for d in detail.case.dispatches}
    names[detail.case.created_by] = detail.case.opened_by.name
    return page(
        request,
        "case.html",
        case=detail.case,
        summary=case_summary(detail.case, cases.rules),
        detail=detail,
        timings=timing_views(detail.timings),
        surveyors=names,
        apart=await case_packets_apart(db_session, detail.case.id, in_timeline),
        items=items,
        missing_media=listing.missing,
        checklist=checklist(detail),
        map=map_of(detail, items, settings.desk_tile_url),
    )


@get("/cases/{case_id:uuid}/timings", guards=[DESK], include_in_schema=False)
async def case_timings(
    request: Request, case_id: FromPath[UUID], cases: NamedDependency[CaseService]
) -> Template:
    """The timings table alone: the case page refreshes it every few seconds (htmx)."""
    detail = await _case(cases, case_id)
    if isinstance(detail, Refusal):
        return _refused(request, detail)
    context = {"case": detail.case, "timings": timing_views(detail.timings)}
    return page(request, "case_timings.html", **context)


@get("/cases/{case_id:uuid}/media/{sha256:str}", guards=[DESK], include_in_schema=False)
async def case_photo(
    request: Request,
    case_id: FromPath[UUID],
    sha256: FromPath[str],
    cases: NamedDependency[CaseService],
    media: NamedDependency[MediaService],
) -> Template:
    """One photo or document of the case at screen size, a click away from the original."""
    detail = await _case(cases, case_id)
    if isinstance(detail, Refusal):
        return _refused(request, detail)
    listing = await media.case_media(detail.case)
    found = [media_item(i) for i in listing.items if i.media.sha256 == sha256.lower()]
    if not found:
        return _refused(request, Refusal("", "error.not_found", status=404))
    return page(request, "case_photo.html", case=detail.case, item=found[0])


CASE_ROUTES = [cases_list, case_page, case_timings, case_photo]
