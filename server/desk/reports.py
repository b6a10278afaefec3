"""The reports page: the SLA report of the API (CaseService.sla_report, GET /v1/reports/sla)
for a period of branch dates, by surveyor, zone or team, as a table and an SVG bar chart,
with its CSV, the branch rates against their targets, and the flagged cases per group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from cases.clock import Clock
from cases.refusal import Refusal
from cases.reports import GROUPS, RATE_TARGETS, GroupStats, branch_rates, report_csv
from cases.service import CaseService
from cases.values import TIMING_NAMES
from media.fraud import FlagRules, flag_groups
from server.desk.charts import percent, share_chart
from server.desk.guards import desk
from server.desk.i18n import translator
from server.desk.render import branch_zone, language, page
from server.settings import Settings

DEFAULT_DAYS = 7  # the week up to today, unless a period is chosen
DEFAULT_CHART = "arrival"
TIERED = "front_end_cycle"  # its target is an average per loss tier


@dataclass
class ReportQuery:
    """The form as typed (shown again as typed) and, when it is valid, the period in UTC."""

    from_text: str
    to_text: str
    group_by: str
    chart: str
    start: datetime | None = None
    end: datetime | None = None
    first: date | None = None
    last: date | None = None


def _day(field: str, text: str) -> date:
    if len(text) > 20:
        raise Refusal(field, "must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refusal(field, "must be a date, YYYY-MM-DD") from None


def read_query(params: Any, today: date, zone: timezone) -> tuple[ReportQuery, Refusal | None]:
    """The period from the first day's midnight to the day after the last, in branch time."""
    query = ReportQuery(
        from_text=params.get("from") or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        to_text=params.get("to") or today.isoformat(),
        group_by=params.get("group_by") or "surveyor",
        chart=params.get("chart") or DEFAULT_CHART,
    )
    try:
        if query.group_by not in GROUPS:
            raise Refusal("group_by", f"must be one of {', '.join(GROUPS)}")
        if query.chart not in TIMING_NAMES:
            raise Refusal("chart", "must be a timing of the report")
        first, last = _day("from", query.from_text), _day("to", query.to_text)
        query.first, query.last = first, last
        query.start = _midnight("from", first, zone)
        query.end = _midnight("to", last, zone, days=1)
        if query.end <= query.start:
            raise Refusal("to", "must be on or after from")
    except Refusal as refused:
        query.start = query.end = None
        return query, refused
    return query, None


def _midnight(field: str, day: date, zone: timezone, days: int = 0) -> datetime:
    """The day's (or `days` later's) midnight in the branch, in UTC: a day at the end of
    the calendar has none."""
    try:
        return datetime.combine(day + timedelta(days=days), time(), zone).astimezone(UTC)
    except OverflowError:
        raise Refusal(field, "out of range") from None


def _today(clock: Clock, zone: timezone) -> date:
    return clock.now().astimezone(zone).date()


async def _report(
    request: Request, cases: CaseService, clock: Clock, settings: Settings
) -> tuple[ReportQuery, list[GroupStats], Refusal | None]:
    zone = branch_zone(settings.desk_utc_offset_minutes)
    query, refused = read_query(request.query_params, _today(clock, zone), zone)
    groups: list[GroupStats] = []
    if refused is None and query.start is not None and query.end is not None:
        try:
            groups = await cases.sla_report(
                start=query.start, end=query.end, group_by=query.group_by
            )
            await flag_groups(cases.session, groups, FlagRules.of(settings))
        except Refusal as error:
            refused = error
    return query, groups, refused


def _charts(t: Any, query: ReportQuery, groups: list[GroupStats]) -> dict[str, Any]:
    timing = [
        (g.group, s.share, f"{s.within}/{s.decided}")
        for g in groups
        for s in [g.timings[query.chart]]
    ]
    rates = branch_rates(groups)
    labels = {name: t(f"reports.rate.{name}") for name in rates}
    rate_rows = [(labels[name], r.share, f"{r.within}/{r.decided}") for name, r in rates.items()]
    targets = {labels[name]: RATE_TARGETS[name] for name in rates}
    return {
        "timing_chart": share_chart(
            t("reports.chart.title", timing=t(f"reports.timing.{query.chart}")), timing
        ),
        "rates": rates,
        "rate_chart": share_chart(t("reports.rates.title"), rate_rows, targets),
    }


def _render(
    request: Request,
    cases: CaseService,
    query: ReportQuery,
    groups: list[GroupStats],
    refused: Refusal | None,
) -> Template:
    t = translator(language(request))
    tier_limits = {tier: cases.limits[f"{TIERED}.{tier}"] for tier in ("small", "large")}
    return page(
        request,
        "reports.html",
        status_code=400 if refused else 200,
        query=query,
        groups=groups,
        refused=refused,
        group_choices=GROUPS,
        timing_names=TIMING_NAMES,
        tiered=TIERED,
        targets=RATE_TARGETS,
        percent=percent,
        tier_limits=tier_limits,
        **_charts(t, query, groups),
    )


@get("/reports", guards=[desk("dispatcher", "reviewer")], include_in_schema=False)
async def reports_page(
    request: Request,
    cases: NamedDependency[CaseService],
    clock: NamedDependency[Clock],
    settings: NamedDependency[Settings],
) -> Template:
    query, groups, refused = await _report(request, cases, clock, settings)
    return _render(request, cases, query, groups, refused)


@get("/reports/sla.csv", guards=[desk("dispatcher", "reviewer")], include_in_schema=False)
async def reports_csv(
    request: Request,
    cases: NamedDependency[CaseService],
    clock: NamedDependency[Clock],
    settings: NamedDependency[Settings],
) -> Response:
    """The API's CSV (report_csv) of the period on the page, as a download; a period that
    cannot be read shows the page with the refusal."""
    query, groups, refused = await _report(request, cases, clock, settings)
    if refused is not None or query.first is None or query.last is None:
        return _render(request, cases, query, [], refused)
    name = f"sla-{query.group_by}-{query.first.isoformat()}-{query.last.isoformat()}.csv"
    return Response(
        report_csv(query.group_by, groups),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
