"""SLA reports (desk): share of timings within limit per surveyor or zone; CSV on request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from cases.clock import Clock
from cases.limits import Limits
from cases.reports import report_csv, sla_report
from cases.values import TIMING_NAMES, AwareTime
from server.auth import roles
from server.errors import FieldError
from server.openapi import errors

# Widest report: ten years (a wider one is a typo, and would scan everything).
MAX_SPAN_DAYS = 3660
DATE_TIME = {"format": "date-time"}  # parsed here, so that the 400 names the field


class TimingShare(msgspec.Struct, kw_only=True):
    decided: int
    within: int
    share: float | None
    open: int
    average_seconds: int | None


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


class SlaReport(msgspec.Struct, kw_only=True):
    # `from` is a Python keyword: the field is renamed on the wire.
    start: datetime = msgspec.field(name="from")
    to: datetime
    group_by: Literal["surveyor", "zone"]
    groups: list[GroupReport]


def _aware(name: str, value: str) -> datetime:
    try:
        return msgspec.convert(value, AwareTime, strict=False).astimezone(UTC)
    except msgspec.ValidationError:
        raise FieldError(name, "must be an RFC 3339 time with offset") from None
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 has no UTC equivalent
        raise FieldError(name, "out of range") from None


@get(
    "/v1/reports/sla",
    guards=[roles("dispatcher", "reviewer")],
    tags=["reports"],
    summary="Share within limit per timing, by surveyor or zone (CSV with Accept: text/csv)",
    description="Cases whose last dispatch is in [from, to). `decided` counts timings that "
    "ended or ran past their limit; `share` = within / decided; `open` are still running.",
    responses={
        200: ResponseSpec(
            SlaReport, description="JSON, or CSV on Accept: text/csv", generate_examples=False
        ),
        **errors(400, 403),
    },
)
async def read_sla_report(
    request: Request,
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
    limits: NamedDependency[Limits],
    from_: Annotated[str, QueryParameter(name="from", max_length=64, schema_extra=DATE_TIME)],
    to: Annotated[str, QueryParameter(max_length=64, schema_extra=DATE_TIME)],
    group_by: Annotated[Literal["surveyor", "zone"], QueryParameter()] = "surveyor",
) -> Response:
    start, end = _aware("from", from_), _aware("to", to)
    if end <= start:
        raise FieldError("to", "must be after from")
    if (end - start).days > MAX_SPAN_DAYS:
        raise FieldError("to", f"a report spans at most {MAX_SPAN_DAYS} days")
    groups = await sla_report(
        db_session, start=start, end=end, group_by=group_by, limits=limits, now=clock.now()
    )
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
        groups=[
            GroupReport(
                group=g.group,
                cases=len(g.cases),
                timings={
                    name: TimingShare(
                        decided=t.decided,
                        within=t.within,
                        share=t.share,
                        open=t.open,
                        average_seconds=t.average_seconds,
                    )
                    for name, t in ((n, g.timings[n]) for n in TIMING_NAMES)
                },
                rates={
                    name: RateShare(decided=r.decided, within=r.within, share=r.share)
                    for name, r in g.rates.items()
                },
            )
            for g in groups
        ],
    )
    return Response(body, media_type=MediaType.JSON)
