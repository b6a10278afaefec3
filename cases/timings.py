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

from cases.limits import Limits, cycle_tier, estimate_tier
from cases.timeline import CaseFacts, DispatchFact, Event

_MICRO = timedelta(microseconds=1)

END_BEFORE_START = "end_before_start"
NO_SURVEY_COMPLETED = "no_survey_completed"  # estimate timed from arrival instead
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
    arrived = _first(current, "arrived")
    estimate = _first(current, "estimate_submitted")
    if estimate is not None and estimate.amount is not None:
        tier = estimate_tier(estimate.amount)
    else:
        tier = "small" if case.simple_procedure else "medium"
    begins, extra = arrived, ()
    if tier != "small":
        begins = _first(current, "survey_completed")
        if begins is None and arrived is not None:
            begins, extra = arrived, (NO_SURVEY_COMPLETED,)
    if begins is not None:
        out.append(_ended(Measure("estimate", f"estimate.{tier}", begins.time), estimate, *extra))
    resubmit = _resubmit(timeline, last, reviews)
    if resubmit is not None:
        out.append(resubmit)
    out.append(_front_end_cycle(timeline, last, dispatched_at, reviews))
    scene_team = dispatches[scenes[-1]].team if scenes else None
    for m in out:  # whose limits apply: the team of the dispatch each timing answers
        m.zone = case.zone
        if m.name in SCENE_TIMINGS:
            m.team = scene_team
        elif m.name not in CASE_TIMINGS:
            m.team = dispatches[last].team
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


def _front_end_cycle(timeline, last, dispatched_at, reviews) -> Measure:
    latest = latest_estimate(timeline)
    tier = cycle_tier(latest.amount) if latest and latest.amount is not None else "small"
    cycle = Measure("front_end_cycle", f"front_end_cycle.{tier}", dispatched_at)
    approved = (
        latest is not None
        and latest.dispatch == last
        and bool(reviews)
        and reviews[-1].decision == "approved"
        and reviews[-1].estimate_packet_id == latest.packet_id
    )
    return _ended(cycle, latest if approved else None)


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
    )
