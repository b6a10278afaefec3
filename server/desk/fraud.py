"""The anti-fraud page: for a period of branch dates (as the reports page: cases whose last
dispatch falls in it), the cases with flagged photos, their flags, and how many flagged
cases each surveyor and zone has. Flags come by name from media/fraud.py."""

from __future__ import annotations

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from cases.clock import Clock
from cases.refusal import Refusal
from cases.service import CaseService
from media.fraud import FlagRules, flagged_cases, fraud_report
from server.desk.guards import desk
from server.desk.render import branch_zone, page
from server.desk.reports import read_query
from server.settings import Settings


@get("/fraud", guards=[desk("reviewer")], include_in_schema=False)
async def fraud_page(
    request: Request,
    cases: NamedDependency[CaseService],
    clock: NamedDependency[Clock],
    settings: NamedDependency[Settings],
) -> Template:
    zone = branch_zone(settings.desk_utc_offset_minutes)
    period = {k: request.query_params.get(k) for k in ("from", "to")}  # nothing else counts
    form, refused = read_query(period, clock.now().astimezone(zone).date(), zone)
    found = []
    if refused is None and form.start is not None and form.end is not None:
        try:
            groups = await cases.sla_report(start=form.start, end=form.end, group_by="zone")
            ids = {case_id for g in groups for case_id in g.cases}
            found = await flagged_cases(cases.session, ids, FlagRules.of(settings))
        except Refusal as error:
            refused = error
    return page(
        request,
        "fraud.html",
        status_code=400 if refused else 200,
        form=form,
        refused=refused,
        report=fraud_report(found),
    )
