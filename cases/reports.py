"""SLA reports: per surveyor, zone or team, the share of timings within their limit, and the
branch rates of cases/rates.py (on-site document collection, on-scene survey).

A case is in the report when its last dispatch falls in [from, to). A timing counts as
decided once it ended (met or missed) or ran past its limit (overdue: it can only miss);
the share within limit is met / decided. Timings still running inside their limit are
reported as `open` and left out of the share, so a report of today is not flattered by
work not yet done.

By team, each timing counts for the team stored on it (the team of the dispatch it answers,
whose limits judged it; `(none)` for none, and so for the case's own timings such as
`report_to_arrival`): a case handed from one team to another is in both groups. The case's
rates and money count once, for the team of its last dispatch.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.board import stored_measure
from cases.limits import DEFAULT_LIMITS, Limits
from cases.models import Case, CaseProgress, CaseTiming, Dispatch, User
from cases.rates import RATES
from cases.reductions import MONEY_COLUMNS, Money, reductions
from cases.refusal import Refusal
from cases.timings import Timing, judge
from cases.values import TIMING_NAMES

GROUPS = ("surveyor", "zone", "team")
# The branch's targets for its rates (domain.md): 现场单证收集率 >= 90%, 现场查勘率 >= 98%.
RATE_TARGETS = {"documents_on_site": 0.9, "first_scene": 0.98}
NO_GROUP = "(none)"
# Widest report: ten years (a wider one is a typo, and would scan everything).
MAX_SPAN_DAYS = 3660


@dataclass
class Counted:
    decided: int = 0
    within: int = 0
    open: int = 0
    seconds_total: int = 0
    ended: int = 0

    def add(self, timing: Timing) -> None:
        if timing.state == "running":
            self.open += 1
            return
        self.decided += 1
        self.within += timing.state == "met"
        if timing.end is not None:
            self.ended += 1
            self.seconds_total += timing.seconds

    @property
    def share(self) -> float | None:
        return round(self.within / self.decided, 4) if self.decided else None

    @property
    def average_seconds(self) -> int | None:
        """Average of ended timings (the front-end cycle's target is an average)."""
        return round(self.seconds_total / self.ended) if self.ended else None


@dataclass
class TierStats(Counted):
    """One variant of a timing (a loss tier, a zone): the front-end cycle's target is its
    average per tier (small <= 5 days, large <= 20 days), so tiers are never pooled."""

    limit_seconds: int = 0

    @property
    def average_within_limit(self) -> bool | None:
        average = self.average_seconds
        return None if average is None else average <= self.limit_seconds


@dataclass
class TimingStats(Counted):
    # limit variant (`small`, `large`, `city` ...) -> its own figures; empty for timings
    # with one limit (accept, contact ...).
    tiers: dict[str, TierStats] = field(default_factory=dict)

    def add_judged(
        self, timing: Timing, limit_key: str, limits: Limits, team: str | None = None
    ) -> None:
        """`team`: the group's team, whose limit a tier is read against (by team)."""
        self.add(timing)
        if "." in limit_key:
            variant = limit_key.split(".", 1)[1]
            limit = limits.limit(limit_key, team=team)
            tier = self.tiers.setdefault(variant, TierStats(limit_seconds=limit))
            tier.add(timing)


@dataclass
class RateStats:
    decided: int = 0
    within: int = 0

    @property
    def share(self) -> float | None:
        return round(self.within / self.decided, 4) if self.decided else None


@dataclass
class GroupStats:
    group: str
    cases: set[str] = field(default_factory=set)
    timings: dict[str, TimingStats] = field(
        default_factory=lambda: {name: TimingStats() for name in TIMING_NAMES}
    )
    rates: dict[str, RateStats] = field(
        default_factory=lambda: {name: RateStats() for name in RATES}
    )
    # Estimated, approved and reduced (核减) yuan of the group's approved cases.
    money: Money = field(default_factory=Money)
    # Of its cases, how many have flagged photos, and how many carry each flag (filled in
    # by media/fraud.py `flag_groups`, by name: cases/ knows no flag).
    flagged_cases: int = 0
    flags: dict[str, int] = field(default_factory=dict)


async def sla_report(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    group_by: str,
    limits: Limits,
    now: datetime,
) -> list[GroupStats]:
    if end <= start:
        raise Refusal("to", "must be after from")
    if (end - start).days > MAX_SPAN_DAYS:
        raise Refusal("to", f"a report spans at most {MAX_SPAN_DAYS} days")
    if group_by not in GROUPS:
        raise Refusal("group_by", f"must be one of {', '.join(GROUPS)}")
    group_column = _case_group(group_by)
    timing_group = CaseTiming.team if group_by == "team" else group_column
    rows = await session.execute(
        select(CaseTiming, timing_group.label("group"), Case.zone.label("case_zone"))
        .join(Case, Case.id == CaseTiming.case_id)
        .outerjoin(User, User.id == Case.surveyor_id)
        .where(CaseTiming.dispatched_at >= start, CaseTiming.dispatched_at < end)
    )
    groups: dict[str, GroupStats] = {}
    for row, group, zone in rows:
        key = group or NO_GROUP
        stats = groups.setdefault(key, GroupStats(key))
        stats.cases.add(row.case_id)
        measured = stored_measure(row, zone)
        timing = judge(measured, limits, now)
        team = row.team if group_by == "team" else None
        stats.timings[timing.name].add_judged(timing, measured.limit_key, limits, team)
    in_range = select(CaseTiming.case_id).where(
        CaseTiming.dispatched_at >= start, CaseTiming.dispatched_at < end
    )
    rates = await session.execute(
        select(
            CaseProgress.case_id,
            CaseProgress.documents_on_site,
            CaseProgress.first_scene,
            group_column,
        )
        .join(Case, Case.id == CaseProgress.case_id)
        .outerjoin(User, User.id == Case.surveyor_id)
        .where(CaseProgress.case_id.in_(in_range))
    )
    for case_id, on_site, scene, group in rates:
        stats = groups.setdefault(group or NO_GROUP, GroupStats(group or NO_GROUP))
        stats.cases.add(case_id)
        for name, value in (("documents_on_site", on_site), ("first_scene", scene)):
            if value is not None:
                stats.rates[name].decided += 1
                stats.rates[name].within += bool(value)
    for key, money in (await reductions(session, in_range, group_column)).items():
        if key in groups:
            groups[key].money = money
    return [groups[k] for k in sorted(groups)]


def _case_group(group_by: str) -> ColumnElement[str | None]:
    """What a case (its rates, its money) is grouped by: its surveyor's name, its zone, or
    the team of its last dispatch."""
    if group_by == "surveyor":
        return User.name
    if group_by == "zone":
        return Case.zone
    return (
        select(Dispatch.team)
        .where(Dispatch.case_id == Case.id)
        .order_by(Dispatch.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def branch_rates(groups: list[GroupStats]) -> dict[str, RateStats]:
    """The branch's rates over every group (each case's rates are in one group only)."""
    total = {name: RateStats() for name in RATES}
    for group in groups:
        for name, rate in group.rates.items():
            total[name].decided += rate.decided
            total[name].within += rate.within
    return total


def report_csv(group_by: str, groups: list[GroupStats]) -> str:
    """One row per group: cases, then decided / within / share / open per timing, the
    rates, the tiers, the money columns (cases/reductions.py), and last the flags."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = [group_by, "cases"]
    for name in TIMING_NAMES:
        header += [f"{name}_decided", f"{name}_within", f"{name}_share", f"{name}_open"]
    for name in RATES:
        header += [f"{name}_decided", f"{name}_within", f"{name}_share"]
    # Appended after the columns above, so that their positions never move.
    variants = [key for key in DEFAULT_LIMITS if "." in key]
    for key in variants:
        header += [f"{key}_decided", f"{key}_within", f"{key}_share", f"{key}_average_seconds"]
    header += MONEY_COLUMNS  # after those, for the same reason
    header += ["flagged_cases", "flags"]  # flags: name=cases;name=cases (media/fraud.py)
    writer.writerow(header)
    for g in groups:
        line: list[object] = [_cell(g.group), len(g.cases)]
        for name in TIMING_NAMES:
            t = g.timings[name]
            line += [t.decided, t.within, "" if t.share is None else t.share, t.open]
        for name in RATES:
            r = g.rates[name]
            line += [r.decided, r.within, "" if r.share is None else r.share]
        for key in variants:
            name, variant = key.split(".", 1)
            v = g.timings[name].tiers.get(variant, TierStats())
            line += [v.decided, v.within, _blank(v.share), _blank(v.average_seconds)]
        line += g.money.cells()
        line += [g.flagged_cases, ";".join(f"{k}={v}" for k, v in g.flags.items())]
        writer.writerow(line)
    return out.getvalue()


def _blank(value: object) -> object:
    return "" if value is None else value


def _cell(text: str) -> str:
    """Keep a name that looks like a formula from being run by a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
