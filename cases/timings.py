"""The service timings of a case, measured from its timeline (pure functions).

`measure` says when each timing started and ended and which limit applies; it depends
only on the log (events, dispatches, reviews), so it can be stored and recomputed at
will. `judge` adds what depends on policy and the server's clock: limit, seconds, state.

Which events count: only those answering a dispatch (sent by the surveyor who held the
case, received after it was dispatched to them). accept/contact/arrival answer the last
*scene* dispatch: an estimate handover, re-survey or document pickup does not restart them.
estimate, resubmit and the front-end cycle follow the last dispatch of any purpose. The
customer's `report_to_arrival` runs from the report to the first arrival of anyone. Late
packets from the surveyor the case was taken from can
never end the new surveyor's timings. Each timing is ended by the first matching event
in timeline order; an end that precedes its start counts as 0 s and is flagged.

Estimate tier: the amount of the estimate that ends it. Until there is one, a
simple-procedure case is expected on site (small), any other the 24 h (medium) rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cases.limits import DEFAULT_TIERS, Limits, Tiers
from cases.timeline import CaseFacts, DispatchFact, Event

_MICRO = timedelta(microseconds=1)

END_BEFORE_START = "end_before_start"
NO_SURVEY_COMPLETED = "no_survey_completed"  # estimate timed from arrival instead
NO_DISASSEMBLED = "no_disassembled"  # a large estimate timed without its disassembly
# Timings answering the last scene dispatch, and those of the case rather than a dispatch
# (judged with no team's limits).
SCENE_TIMINGS = frozenset({"accept", "contact", "arrival"})
CASE_TIMINGS = frozenset({"report_to_arrival", "delegation"})


@dataclass(frozen=True)
class ReviewFact:
    decision: str  # approved | returned
    reviewed_at: datetime
    estimate_packet_id: str


@dataclass
class Measure:
    """A started timing as the log has it (no limit or clock applied yet)."""

    name: str
    limit_key: str
    start: datetime
    end: datetime | None = None
    source: str | None = None
    end_packet_id: str | None = None
    flags: list[str] = field(default_factory=list)
    # The team of the dispatch the timing answers (None: a case-level timing such as
    # report_to_arrival) and the case's zone: with limit_key, they pick the limit.
    team: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class Timing:
    name: str
    start: datetime
    end: datetime | None
    seconds: int
    limit_seconds: int
    state: str
    source: str | None
    flags: list[str]
    # The team whose limits were looked up (the dispatch's; None: no team's).
    team: str | None = None

    @property
    def seconds_left(self) -> int:
        """Time left before the limit (negative: overdue by that much)."""
        return self.limit_seconds - self.seconds


def whole_seconds(start: datetime, end: datetime) -> int:
    """Seconds from start to end, rounded up (so `<= limit` is exact), never negative."""
    micros = max(0, (end - start) // _MICRO)
    return -(-micros // 1_000_000)


def _ended(measure: Measure, event: Event | None, *extra: str) -> Measure:
    measure.flags.extend(extra)
    if event is not None:
        measure.end, measure.source, measure.end_packet_id = (
            event.time,
            event.source,
            event.packet_id,
        )
        measure.flags.extend(f for f in event.flags if f not in measure.flags)
        if event.time < measure.start:
            measure.flags.append(END_BEFORE_START)
    return measure


def _first(events: Sequence[Event], kind: str) -> Event | None:
    return next((e for e in events if e.kind == kind), None)


def measure(
    case: CaseFacts,
    timeline: Sequence[Event],
    dispatches: Sequence[DispatchFact],
    reviews: Sequence[ReviewFact],
    tiers: Tiers = DEFAULT_TIERS,
) -> list[Measure]:
    """The started timings of the case, in TIMING_NAMES order."""
    if not dispatches:
        return []
    last = len(dispatches) - 1
    dispatched_at = dispatches[last].dispatched_at
    current = [e for e in timeline if e.dispatch == last]
    out: list[Measure] = []
    if case.zone != "out_of_town":  # timed by the delegation instead (cases/delegation.py)
        # The customer's wait: from the report to the first arrival of anyone.
        anyone = [e for e in timeline if e.dispatch is not None]
        out.append(
            _ended(
                Measure("report_to_arrival", f"report_to_arrival.{case.zone}", case.reported_at),
                _first(anyone, "arrived"),
            )
        )
    scenes = [i for i, d in enumerate(dispatches) if d.purpose == "scene"]
    if scenes:  # the scene timings answer the last scene dispatch, whatever came after
        scene = scenes[-1]
        scene_at = dispatches[scene].dispatched_at
        visit = [e for e in timeline if e.dispatch == scene]
        out.append(_ended(Measure("accept", "accept", scene_at), _first(visit, "accepted")))
        out.append(_ended(Measure("contact", "contact", scene_at), _first(visit, "contacted")))
        if case.zone != "out_of_town":
            out.append(
                _ended(
                    Measure("arrival", f"arrival.{case.zone}", scene_at),
                    _first(visit, "arrived"),
                )
            )
    out.extend(_estimate(case, current, tiers))
    resubmit = _resubmit(timeline, last, reviews)
    if resubmit is not None:
        out.append(resubmit)
    out.append(_front_end_cycle(current, dispatched_at, reviews, tiers))
    scene_team = dispatches[scenes[-1]].team if scenes else None
    for m in out:  # whose limits apply: the team of the dispatch each timing answers
        m.zone = case.zone
        if m.name in SCENE_TIMINGS:
            m.team = scene_team
        elif m.name not in CASE_TIMINGS:
            m.team = dispatches[last].team
    return out


def _estimate(case: CaseFacts, current: Sequence[Event], tiers: Tiers) -> list[Measure]:
    """items_fixed (large cases) and the estimate timing of the current surveyor."""
    out: list[Measure] = []
    disassembled = _first(current, "disassembled")
    if disassembled is not None:
        fixed = _first(current, "items_fixed")
        out.append(_ended(Measure("items_fixed", "items_fixed", disassembled.time), fixed))
    estimate = _first(current, "estimate_submitted")
    if estimate is not None and estimate.amount is not None:
        tier = tiers.estimate(estimate.amount)
    elif disassembled is not None:
        tier = "large"
    else:
        tier = "small" if case.simple_procedure else "medium"
    if tier == "small" and not case.simple_procedure:
        tier = "medium"  # a small loss without simple, clear liability: the 24 h rule
    arrived = _first(current, "arrived")
    completed = _first(current, "survey_completed")
    if tier == "small":
        begins, extra = arrived, ()
    elif tier == "large" and disassembled is not None:
        begins, extra = disassembled, ()
    else:
        begins = completed
        extra = (NO_DISASSEMBLED,) if tier == "large" else ()
        if begins is None and arrived is not None:
            begins, extra = arrived, (*extra, NO_SURVEY_COMPLETED)
    if begins is not None:
        out.append(_ended(Measure("estimate", f"estimate.{tier}", begins.time), estimate, *extra))
    return out


def _resubmit(timeline: Sequence[Event], last: int, reviews: Sequence[ReviewFact]):
    returns = [r for r in reviews if r.decision == "returned"]
    if not returns:
        return None
    returned = returns[-1]
    position = next(
        (i for i, e in enumerate(timeline) if e.packet_id == returned.estimate_packet_id), -1
    )
    following = [
        e for e in timeline[position + 1 :] if e.kind == "estimate_submitted" and e.dispatch == last
    ]
    return _ended(
        Measure("resubmit", "resubmit", returned.reviewed_at), following[0] if following else None
    )


def latest_estimate(timeline: Sequence[Event]) -> Event | None:
    """The last estimate in the timeline from a surveyor who held the case when sent."""
    estimates = [e for e in timeline if e.kind == "estimate_submitted" and e.dispatch is not None]
    return estimates[-1] if estimates else None


def _front_end_cycle(
    current: Sequence[Event], dispatched_at: datetime, reviews: Sequence[ReviewFact], tiers: Tiers
) -> Measure:
    """Last dispatch -> last estimate submitted (末次估损单提交), decided when it is sent,
    whatever the review does later; a return of that estimate reopens the cycle until the
    next one. The tier is the last estimate's (a disassembled case counts as large)."""
    estimates = [e for e in current if e.kind == "estimate_submitted"]
    latest = estimates[-1] if estimates else None
    if latest is not None and latest.amount is not None:
        tier = tiers.cycle(latest.amount)
    else:
        tier = "large" if _first(current, "disassembled") else "small"
    cycle = Measure("front_end_cycle", f"front_end_cycle.{tier}", dispatched_at)
    verdicts = [r for r in reviews if latest and r.estimate_packet_id == latest.packet_id]
    reopened = bool(verdicts) and verdicts[-1].decision == "returned"
    return _ended(cycle, None if reopened else latest)


def judge(measured: Measure, limits: Limits, now: datetime) -> Timing:
    """Apply the limit in force and the server's clock to a measured timing."""
    limit = limits.limit(measured.limit_key, team=measured.team, zone=measured.zone)
    if measured.end is not None:
        seconds = whole_seconds(measured.start, measured.end)
        state = "met" if seconds <= limit else "missed"
    else:
        seconds = whole_seconds(measured.start, now)
        state = "running" if seconds <= limit else "overdue"
    return Timing(
        name=measured.name,
        start=measured.start,
        end=measured.end,
        seconds=seconds,
        limit_seconds=limit,
        state=state,
        source=measured.source,
        flags=list(measured.flags),
        team=measured.team,
    )
