"""The reviewer's desk (核损): the queue oldest first, a case's review page (the estimate and
its items, photos and documents full size with keyboard navigation), approve (with the
approved amount) or return (with a reason and what is asked for). After a decision the next
case of the queue the reviewer may approve opens, else the queue.

Thin like the API: the queue, the case, its estimate and its media come from the same
CaseService and MediaService calls as `GET /v1/review/queue`, `GET /v1/cases/{id}` and
`GET /v1/cases/{id}/media`; a decision is `CaseService.review`, checked first by the API's
own wire type. A refusal shows the page again with the message next to the form."""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from cases.clock import Clock
from cases.refusal import Refusal
from cases.reviews import QueueEntry, within_authority, yuan
from cases.service import CaseService
from media.service import MediaService
from server.desk.guards import desk
from server.desk.render import page
from server.desk.review_forms import approval, return_of
from server.routes.cases import case_view
from server.routes.media import MediaItem, media_item
from sync.packets import CATEGORIES

QUEUE_PAGE = 50
# How far down the queue the next case is looked for after a decision.
NEXT_LOOKAHEAD = 500
SHOWN_INLINE = ("image/jpeg", "image/png")  # what a browser shows without a thumbnail
DECISIONS = {"approved", "returned"}


def number(amount: float) -> str:
    """An amount as a form field holds it: 62000, 3200.5 (no grouping, no trailing zeros)."""
    return f"{amount:.2f}".rstrip("0").rstrip(".")


def _page_number(raw: str | None) -> int:
    """?page=N (1-based); anything else is the first page."""
    try:
        page_no = int(raw or "1")
    except ValueError:
        return 1
    return min(max(page_no, 1), 100_000)


def _done(request: Request) -> dict[str, str] | None:
    """The decision just taken (after the redirect), to say it on the page that follows."""
    decision = request.query_params.get("done")
    if decision not in DECISIONS:
        return None
    return {"decision": decision, "case_no": (request.query_params.get("case_no") or "")[:64]}


@get("/review", guards=[desk("reviewer")], include_in_schema=False)
async def review_queue_page(
    request: Request, cases: NamedDependency[CaseService], clock: NamedDependency[Clock]
) -> Template:
    page_no = _page_number(request.query_params.get("page"))
    entries = await cases.review_queue(limit=QUEUE_PAGE + 1, offset=(page_no - 1) * QUEUE_PAGE)
    return page(
        request,
        "review_queue.html",
        entries=entries[:QUEUE_PAGE],
        page_number=page_no,
        more=len(entries) > QUEUE_PAGE,
        now=clock.now(),
        done=_done(request),
        yuan=yuan,
        max_approve=request.scope["user"].max_approve,
    )


def screen_src(item: MediaItem) -> str | None:
    """What the viewer shows: the screen-sized thumbnail, else the original when a browser
    can show it (thumbnails not made yet), else nothing (a link to the original only)."""
    if item.screen_url:
        return item.screen_url
    return item.url if item.content_type in SHOWN_INLINE else None


def small_src(item: MediaItem) -> str | None:
    if item.thumbnail_url:
        return item.thumbnail_url
    return item.url if item.content_type in SHOWN_INLINE else None


def _photo_index(raw: str | None, count: int) -> int:
    """?photo=N (1-based) within the gallery; 0 when it is empty."""
    if count == 0:
        return 0
    try:
        shown = int(raw or "1")
    except ValueError:
        shown = 1
    return min(max(shown, 1), count)


async def _review_page(
    request: Request,
    case_id: str,
    cases: CaseService,
    media: MediaService,
    *,
    status: int = 200,
    refusal: Refusal | None = None,
    refused_form: str | None = None,
    typed: dict[str, object] | None = None,
) -> Template:
    try:
        detail = await cases.read(case_id)
    except Refusal as exc:  # an unknown case: a page saying so, never the API's JSON
        return page(
            request, "error.html", status_code=exc.status, status=exc.status, message=exc.message
        )
    estimate = await cases.estimate(detail.case)
    listing = await media.case_media(detail.case)
    items = [media_item(item) for item in listing.items]
    shown = _photo_index(request.query_params.get("photo"), len(items))
    user = request.scope["user"]
    amount = estimate.amount if estimate is not None else None
    return page(
        request,
        "review_case.html",
        status_code=status,
        path=f"/review/{case_id}",  # a refusal is shown at the form's URL: links say the page's
        query="",
        case=case_view(detail.case, cases.rules, detail.review),
        estimate=estimate,
        items=items,
        missing_media=len(listing.missing),
        shown=shown,
        screen_src=screen_src,
        small_src=small_src,
        within=within_authority(user, amount),
        max_approve=user.max_approve,
        yuan=yuan,
        number=number,
        categories=CATEGORIES,
        refusal=refusal,
        refused_form=refused_form,
        typed=typed or {},
        done=_done(request),
    )


@get("/review/{case_id:uuid}", guards=[desk("reviewer")], include_in_schema=False)
async def review_case_page(
    request: Request,
    case_id: FromPath[UUID],
    cases: NamedDependency[CaseService],
    media: NamedDependency[MediaService],
) -> Template:
    return await _review_page(request, str(case_id), cases, media)


async def _next_case(cases: CaseService, decided: str) -> QueueEntry | None:
    """The oldest case still awaiting review that this reviewer may approve (a case above
    their authority waits for one who holds it)."""
    for entry in await cases.review_queue(limit=NEXT_LOOKAHEAD, offset=0):
        if entry.case_id != decided and entry.within_authority:
            return entry
    return None


async def _decide(
    request: Request,
    case_id: str,
    cases: CaseService,
    media: MediaService,
    which: str,
) -> Response:
    form = await request.form()
    try:
        asked = approval(form) if which == "approve" else return_of(form)
        await cases.review(
            case_id,
            decision=asked.decision,
            reason=asked.reason,
            requested=asked.requested,
            approved_amount=asked.approved_amount,
        )
    except Refusal as exc:  # nothing was stored (the request's transaction rolls back)
        return await _review_page(
            request,
            case_id,
            cases,
            media,
            status=exc.status,
            refusal=exc,
            refused_form=which,
            typed=typed(form),
        )
    decided = await cases.read(case_id)
    after = urlencode({"done": asked.decision, "case_no": decided.case.case_no})
    following = await _next_case(cases, case_id)
    target = f"/review/{following.case_id}" if following else "/review"
    return Redirect(f"{target}?{after}", status_code=303)


def typed(form: FormMultiDict) -> dict[str, object]:
    """What the reviewer typed, to fill the forms in again after a refusal."""

    def plain(name: str) -> str:
        value = form.get(name)
        return value[:2000] if isinstance(value, str) else ""

    requested = [value for value in form.getall("requested", []) if value in CATEGORIES]
    return {
        "approved_amount": plain("approved_amount")[:40],
        "reason": plain("reason"),
        "requested": requested,
    }


@post(
    "/review/{case_id:uuid}/approve",
    guards=[desk("reviewer")],
    include_in_schema=False,
    status_code=303,
)
async def approve_case(
    request: Request,
    case_id: FromPath[UUID],
    cases: NamedDependency[CaseService],
    media: NamedDependency[MediaService],
) -> Response:
    return await _decide(request, str(case_id), cases, media, "approve")


@post(
    "/review/{case_id:uuid}/return",
    guards=[desk("reviewer")],
    include_in_schema=False,
    status_code=303,
)
async def return_case(
    request: Request,
    case_id: FromPath[UUID],
    cases: NamedDependency[CaseService],
    media: NamedDependency[MediaService],
) -> Response:
    return await _decide(request, str(case_id), cases, media, "return")


@get(
    ["/review/{case_id:uuid}/approve", "/review/{case_id:uuid}/return"],
    guards=[desk("reviewer")],
    include_in_schema=False,
)
async def decision_form_url(case_id: FromPath[UUID]) -> Redirect:
    """The address a refused decision was shown at, opened again: the case's page."""
    return Redirect(f"/review/{case_id}", status_code=303)


REVIEW_ROUTES = [review_queue_page, review_case_page, approve_case, return_case]
REVIEW_ROUTES += [decision_form_url]
