"""What each timing of a case truly is, from the truth alone (the server's rules, stated
independently of its code): which acts and events start and end it, and its limit's key.

- `report_to_arrival` (not out of town): the report to the first arrival of anyone who held
  the case when arriving (a surveyor the case was taken from before arriving counts not);
- `accept`, `contact`, `arrival` (not out of town): the last *scene* dispatch to that
  surveyor's first accepted / contacted / arrived (a handover does not restart them);
- `delegation` (out of town): the first dispatch to the dispatcher's delegation;
- `estimate`: the current holder's first estimate, from their arrival (small, up to 2,000
  yuan, simple procedure), their survey completion (medium, and small without simple
  procedure) or their disassembly (large, over 10,000);
- `items_fixed` (large): the holder's disassembly to their items fixed;
- `resubmit`: the last return to the next estimate of the current holder;
- `front_end_cycle`: the last dispatch (any purpose) to the holder's last estimate, running
  again while that estimate stands returned."""

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
    "items_fixed",
    "resubmit",
    "front_end_cycle",
)
SMALL_MAX = 2_000  # yuan, included (以内)
LARGE_ABOVE = 10_000


@dataclass(frozen=True)
class Expected:
    limit_key: str
    start: datetime
    end: datetime | None  # None: still running
    start_event: Recorded | None  # None: an act of the desk or the report, exact
    end_event: Recorded | None


def estimate_tier(amount: float, simple: bool) -> str:
    if amount > LARGE_ABOVE:
        return "large"
    return "small" if amount <= SMALL_MAX and simple else "medium"


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
    plan = truth.plan
    out: dict[str, Expected] = {}
    out_of_town = plan.zone == "out_of_town"
    first_dispatch, last_dispatch = legs[0].dispatched_at, legs[-1].dispatched_at
    assert first_dispatch is not None and last_dispatch is not None
    if not out_of_town and truth.reported_at is not None:
        arrivals = [
            e for i, leg in enumerate(legs) for e in leg.all("arrived") if _held_when(legs, i, e)
        ]
        first = min(arrivals, key=lambda e: e.at, default=None)
        key = f"report_to_arrival.{plan.zone}"
        out["report_to_arrival"] = Expected(key, truth.reported_at, _at(first), None, first)
    scenes = [leg for leg in legs if leg.purpose == "scene"]
    if scenes:
        scene = scenes[-1]
        assert scene.dispatched_at is not None
        names = [("accept", "accept", "accepted"), ("contact", "contact", "contacted")]
        if not out_of_town:
            names.append(("arrival", f"arrival.{plan.zone}", "arrived"))
        for name, key, kind in names:
            end = scene.first(kind)
            out[name] = Expected(key, scene.dispatched_at, _at(end), None, end)
    if out_of_town:
        out["delegation"] = Expected("delegation", first_dispatch, truth.delegated_at, None, None)
    holder = legs[-1]
    out.update(_estimate(truth, holder))
    estimates = holder.all("estimate_submitted")
    returns = [at for decision, at in truth.reviews if decision == "returned"]
    if returns:
        following = [e for e in estimates if e.at > returns[-1]]
        end = following[0] if following else None
        out["resubmit"] = Expected("resubmit", returns[-1], _at(end), None, end)
    latest = estimates[-1] if estimates else None
    if latest is not None:
        verdicts = [decision for decision, at in truth.reviews if at > latest.at]
        if verdicts and verdicts[-1] == "returned":
            latest = None  # the return reopened the cycle
    cycle = "large" if plan.amount > LARGE_ABOVE or holder.first("disassembled") else "small"
    out["front_end_cycle"] = Expected(
        f"front_end_cycle.{cycle}", last_dispatch, _at(latest), None, latest
    )
    return out


def _estimate(truth: CaseTruth, holder: LegTruth) -> dict[str, Expected]:
    out: dict[str, Expected] = {}
    disassembled = holder.first("disassembled")
    if disassembled is not None:
        fixed = holder.first("items_fixed")
        out["items_fixed"] = Expected(
            "items_fixed", disassembled.at, _at(fixed), disassembled, fixed
        )
    estimate = holder.first("estimate_submitted")
    if estimate is not None:
        tier = estimate_tier(truth.plan.amount, truth.plan.simple)
    elif disassembled is not None:
        tier = "large"
    else:
        tier = "medium" if not truth.plan.simple else "small"
    arrived = holder.first("arrived")
    if tier == "small":
        begins = arrived
    elif tier == "large" and disassembled is not None:
        begins = disassembled
    else:
        begins = holder.first("survey_completed") or arrived
    if begins is not None:
        out["estimate"] = Expected(f"estimate.{tier}", begins.at, _at(estimate), begins, estimate)
    return out
