"""The claim workflow, planned on top of the day's cases: which cases are taken from their
surveyor mid-way (re-dispatch), handed to another surveyor for the estimate (a large case),
out of town (delegated by the dispatcher), returned by the reviewer and resubmitted, and
closed once approved. Shares are of all cases, rounded (0.25 of 8 cases is 2, 0.05 of 6 is
none); a re-dispatch or handover needs a second device."""

from __future__ import annotations

import math
import random

from simulator.plan import (
    CENTRE,
    CasePlan,
    Leg,
    Options,
    Step,
    estimate_items,
    offset_m,
    scene_steps,
)

LARGE = (12_000, 60_000)  # yuan: above 10,000, the large-case team's estimate


def _count(share: float, available: int) -> int:
    return min(available, round(share * available))


def plan_acts(rng: random.Random, opts: Options, cases: list[CasePlan]) -> None:
    """Give a share of the cases their workflow (in place); every case with an estimate is
    reviewed, and approved in the end."""
    n = len(cases)
    order = rng.sample(cases, n)
    others = opts.devices >= 2  # a re-dispatch and a handover need another surveyor
    counts = [
        _count(opts.out_of_town, n),
        _count(opts.redispatch, n) if others else 0,
        _count(opts.handover, n) if others else 0,
    ]
    # Each case gets at most one of these; when they do not all fit, each gets its share.
    while sum(counts) > n:
        counts[counts.index(max(counts))] -= 1
    out_of_town = order[: counts[0]]
    redispatched = order[counts[0] : counts[0] + counts[1]]
    handed_over = order[counts[0] + counts[1] : sum(counts)]
    for case in out_of_town:
        _out_of_town(rng, case)
    for case in redispatched:
        _redispatch(rng, opts, case, _another(rng, opts, case.device))
    for case in handed_over:
        _handover(rng, opts, case, _another(rng, opts, case.device))
    reviewed = [c for c in cases if c.zone != "out_of_town"]
    returned = set(id(c) for c in rng.sample(reviewed, _count(opts.returns, len(reviewed))))
    for case in reviewed:
        acts = case.acts
        acts.review_after_s = rng.uniform(300, 1500)
        if id(case) in returned:
            amount = max(300, int(case.amount * rng.uniform(0.8, 0.95)))
            if (amount > 10_000) != (case.amount > 10_000) or (amount < 2000) != (
                case.amount < 2000
            ):
                amount = case.amount  # the resubmission stays in its tier
            data = {"amount": amount, "items": estimate_items(amount)}
            acts.resubmit = Step(
                "estimate_submitted",
                rng.uniform(600, 1800),
                case.lat,
                case.lon,
                rng.random() >= opts.no_fix,
                data,
                leg=len(acts.legs),
            )
            acts.approve_after_s = rng.uniform(300, 1200)
        if rng.random() < opts.close:
            acts.close_after_s = rng.uniform(60, 600)


def _another(rng: random.Random, opts: Options, device: int) -> int:
    return (device + rng.randint(1, opts.devices - 1)) % opts.devices


def _out_of_town(rng: random.Random, case: CasePlan) -> None:
    """Far away: the surveyor accepts and calls the customer; the desk arranges a delegate."""
    angle = rng.uniform(0, 2 * math.pi)
    radius = rng.uniform(120_000, 400_000)
    case.zone = "out_of_town"
    case.lat, case.lon = offset_m(*CENTRE, radius * math.cos(angle), radius * math.sin(angle))
    case.address = f"simulated out-of-town scene {case.index + 1}"
    case.steps = [s for s in case.steps if s.kind in ("accepted", "contacted")]
    contacted = case.steps[-1].after_s
    # Mostly within the hour the delegation is due in; now and then late.
    case.acts.delegate_after_s = contacted + (
        rng.uniform(300, 2400) if rng.random() < 0.85 else rng.uniform(3700, 4500)
    )


def _redispatch(rng: random.Random, opts: Options, case: CasePlan, other: int) -> None:
    """Taken from the first surveyor while they drive: they go on (their tablet has not
    heard) and arrive before the new surveyor does; those late packets end nothing. They
    are played from the re-dispatch's instant, so they surely come after it."""
    steps = case.steps
    contacted = next(s.after_s for s in steps if s.kind == "contacted")
    arrived = next(s for s in steps if s.kind == "arrived")
    taken = rng.uniform(contacted + 60, max(contacted + 90, arrived.after_s - 120))
    origin = offset_m(case.lat, case.lon, rng.uniform(-6000, 6000), rng.uniform(-6000, 6000))
    theirs = scene_steps(rng, opts, case, origin, 1)
    their_arrival = next(s.after_s for s in theirs if s.kind == "arrived")
    case.steps = [s for s in steps if s.after_s < taken]
    late = [s for s in steps if taken <= s.after_s < arrived.after_s and s.kind == "position"]
    for step in late:
        step.after_s -= taken
    arrived.after_s = max(60.0, min(arrived.after_s - taken, their_arrival - 60))
    late = [s for s in late if s.after_s < arrived.after_s] + [arrived]
    case.acts.legs.append(Leg(other, "scene", taken, theirs, previous_steps=late))


def _handover(rng: random.Random, opts: Options, case: CasePlan, other: int) -> None:
    """A large case: the scene surveyor surveys, the large-case team takes it at the shop,
    has the car taken apart, fixes the items and submits the estimate."""
    case.amount = rng.randint(*LARGE)
    case.simple = False
    case.steps = [s for s in case.steps if s.kind != "estimate_submitted" and s.kind != "document"]
    shop = offset_m(case.lat, case.lon, rng.uniform(-4000, 4000), rng.uniform(-4000, 4000))

    def fix() -> bool:
        return rng.random() >= opts.no_fix

    t = rng.uniform(600, 1800)
    steps = [Step("survey_completed", t, *shop, fix(), leg=1)]
    t += rng.uniform(300, 900)
    steps.append(Step("disassembled", t, *shop, fix(), leg=1))
    t += rng.uniform(600, 1800)
    steps.append(Step("items_fixed", t, *shop, fix(), leg=1))
    t += rng.uniform(300, 1200)
    data = {"amount": case.amount, "items": estimate_items(case.amount)}
    steps.append(Step("estimate_submitted", t, *shop, fix(), data, leg=1))
    case.acts.legs.append(Leg(other, "estimate", rng.uniform(120, 900), steps))
