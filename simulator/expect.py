"""What each timing of a case truly is, from the truth alone (the server's rules, stated
independently of its code): which acts and events start and end it.

- `report_to_arrival` (not out of town): the report to the first arrival of anyone who held
  the case when arriving (a surveyor the case was taken from before arriving counts not);
- `accept`, `contact`, `arrival` (not out of town): the last *scene* dispatch to that
  surveyor's first accepted / contacted / arrived (a handover does not restart them);
- `delegation` (out of town): the first dispatch to the dispatcher's delegation;
- `estimate`: the current holder's first estimate, from their arrival (small, < 2,000), survey
  completion (medium, and large unless LARGE_FROM_DISASSEMBLY) or disassembly (large);
- `resubmit`: the last return to the next estimate of the current holder.
`front_end_cycle` is not compared (its rule is changing: see the README)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from simulator.truth import CaseTruth, LegTruth, Recorded

COMPARED = (
    "report_to_arrival",
    "accept",
    "contact",
    "arrival",
    "delegation",
    "estimate",
    "resubmit",
)
# Large estimates timed from `disassembled` (issue 12) instead of survey completion.
LARGE_FROM_DISASSEMBLY = False


@dataclass(frozen=True)
class Expected:
    start: datetime
    end: datetime | None
    start_event: Recorded | None  # None: an act of the desk or the report, exact
    end_event: Recorded | None


def estimate_tier(amount: float) -> str:
    return "small" if amount < 2000 else "large" if amount > 10_000 else "medium"


def _at(event: Recorded | None) -> datetime | None:
    return event.at if event else None


def _held_when(legs: list[LegTruth], index: int, event: Recorded) -> bool:
    """Did the surveyor of legs[index] still hold the case at the event?"""
    later = legs[index + 1].dispatched_at if index + 1 < len(legs) else None
    return later is None or event.at < later


def expected_timings(truth: CaseTruth) -> dict[str, Expected]:
    legs = truth.dispatched()
    if not legs:
        return {}
    out: dict[str, Expected] = {}
    out_of_town = truth.plan.zone == "out_of_town"
    first_dispatch = legs[0].dispatched_at
    assert first_dispatch is not None
    if not out_of_town and truth.reported_at is not None:
        arrivals = [
            e for i, leg in enumerate(legs) for e in leg.all("arrived") if _held_when(legs, i, e)
        ]
        first = min(arrivals, key=lambda e: e.at, default=None)
        out["report_to_arrival"] = Expected(truth.reported_at, _at(first), None, first)
    scenes = [leg for leg in legs if leg.purpose == "scene"]
    if scenes:
        scene = scenes[-1]
        assert scene.dispatched_at is not None
        names = [("accept", "accepted"), ("contact", "contacted")]
        if not out_of_town:
            names.append(("arrival", "arrived"))
        for name, kind in names:
            end = scene.first(kind)
            out[name] = Expected(scene.dispatched_at, _at(end), None, end)
    if out_of_town:
        out["delegation"] = Expected(first_dispatch, truth.delegated_at, None, None)
    holder = legs[-1]
    estimates = holder.all("estimate_submitted")
    if estimates:
        tier = estimate_tier(truth.plan.amount)
        if tier == "small":
            begins = holder.first("arrived")
        elif tier == "large" and LARGE_FROM_DISASSEMBLY:
            begins = holder.first("disassembled")
        else:
            begins = holder.first("survey_completed") or holder.first("arrived")
        if begins is not None:
            out["estimate"] = Expected(begins.at, estimates[0].at, begins, estimates[0])
    returns = [at for decision, at in truth.reviews if decision == "returned"]
    if returns:
        following = [e for e in estimates if e.at > returns[-1]]
        end = following[0] if following else None
        out["resubmit"] = Expected(returns[-1], _at(end), None, end)
    return out
