"""SLA reports (desk): share of timings within limit per surveyor, zone or team; CSV on request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from cases.refusal import Refusal
from cases.reports import report_csv
from cases.service import CaseService
from cases.values import AwareTime
from media.fraud import FlagRules, flag_groups
from server.auth import roles
from server.openapi import errors
from server.routes.timing_views import wire
from server.settings import Settings

DATE_TIME = {"format": "date-time"}  # parsed here, so that the 400 names the field


class TierShare(msgspec.Struct, kw_only=True):
    decided: int
    within: int
    share: float | None
    open: int
    # Average of the ended timings of this tier, and whether it keeps to the tier's limit
    # (the front-end cycle's target is an average: small <= 5 days, large <= 20 days).
    average_seconds: int | None
    limit_seconds: int
    average_within_limit: bool | None


class TimingShare(msgspec.Struct, kw_only=True):
    decided: int
    within: int
    share: float | None
    open: int
    average_seconds: int | None
    # Per limit variant (loss tier `small`/`medium`/`large`, zone `city`/`suburban`):
    # empty for timings with a single limit.
    tiers: dict[str, TierShare]


class RateShare(msgspec.Struct, kw_only=True):
    decided: int
    within: int
    share: float | None


class GroupReport(msgspec.Struct, kw_only=True):
    group: str
    cases: int
    timings: dict[str, TimingShare]
    # documents_on_site (现场单证收集率, target >= 0.9), first_scene (现场查勘率, >= 0.98)
    rates: dict[str, RateShare]
    # Approved cases of the group and their yuan: estimated (the approved estimate),
    # approved, the reduction between them (核减) and its share of the estimated.
    approved_cases: int
    estimated_total: float
    approved_total: float
    reduction_total: float
    reduction_share: float | None
    # Cases of the group with flagged photos, and for each flag how many cases carry it
    # (no_exif, reused_on_other_case, ...: the names of GET /v1/cases/{id}/media).
    flagged_cases: int
    flags: dict[str, int]


class SlaReport(msgspec.Struct, kw_only=True):
    # `from` is a Python keyword: the field is renamed on the wire.
    start: datetime = msgspec.field(name="from")
    to: datetime
    # team: each timing by the team stored on it (`(none)` for none); a case's rates and
    # money by the team of its last dispatch.
    group_by: Literal["surveyor", "zone", "team"]
    groups: list[GroupReport]


def _aware(name: str, value: str) -> datetime:
    try:
        return msgspec.convert(value, AwareTime, strict=False).astimezone(UTC)
    except msgspec.ValidationError:
        raise Refusal(name, "must be an RFC 3339 time with offset") from None
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 has no UTC equivalent
        raise Refusal(name, "out of range") from None


@get(
    "/v1/reports/sla",
    guards=[roles("dispatcher", "reviewer")],
    tags=["reports"],
    summary="Share within limit per timing, by surveyor, zone or team (CSV: Accept: text/csv)",
    description="Cases whose last dispatch is in [from, to). `decided` counts timings that "
    "ended or ran past their limit; `share` = within / decided; `open` are still running. "
    "Money of the approved cases: `estimated_total`, `approved_total`, `reduction_total` "
    "(核减, estimated - approved) and `reduction_share` (reduction / estimated). By `team`, "
    "each timing counts for the team stored on it (the dispatch's team, whose limits "
    "judged it; `(none)` for none, as for `report_to_arrival`), a case's rates and money "
    "for the team of its last dispatch. `flagged_cases`: cases with flagged photos; `flags`: "
    "cases per flag.",
    responses={
        200: ResponseSpec(
            SlaReport, description="JSON, or CSV on Accept: text/csv", generate_examples=False
        ),
        **errors(400, 403),
    },
)
async def read_sla_report(
    request: Request,
    cases: NamedDependency[CaseService],
    settings: NamedDependency[Settings],
    from_: Annotated[str, QueryParameter(name="from", max_length=64, schema_extra=DATE_TIME)],
    to: Annotated[str, QueryParameter(max_length=64, schema_extra=DATE_TIME)],
    group_by: Annotated[Literal["surveyor", "zone", "team"], QueryParameter()] = "surveyor",
) -> Response:
    start, end = _aware("from", from_), _aware("to", to)
    groups = await cases.sla_report(start=start, end=end, group_by=group_by)
    await flag_groups(cases.session, groups, FlagRules.of(settings))
    if request.accept.best_match([MediaType.JSON, "text/csv"], default=MediaType.JSON) == (
        "text/csv"
    ):
        return Response(
            report_csv(group_by, groups),
            media_type="text/csv",  # Litestar adds "; charset=utf-8" to text/*
            headers={"Content-Disposition": 'attachment; filename="sla.csv"'},
        )
    body = SlaReport(
        start=start,
        to=end,
        group_by=group_by,  # type: ignore[arg-type]
        groups=[wire(g, GroupReport, cases=len(g.cases), **g.money.fields()) for g in groups],
    )
    return Response(body, media_type=MediaType.JSON)
