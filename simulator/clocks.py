"""A tablet's clocks: its wall clock, wrong by a skew that a correction may change mid-day
(a phone sets its clock when signal returns, before it sends what it queued), and, on
tablets that have one, the monotonic clock since boot that no correction moves, sent as
`boot_id` and `elapsed_ms` with every packet and push."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulator.plan import DevicePlan, Options


@dataclass(frozen=True)
class TabletClock:
    skew: timedelta  # wall clock minus true time, until the correction
    corrected_at: datetime | None = None  # true time of the correction (None: never)
    skew_after: timedelta = timedelta()  # what is left of the skew after it
    booted: datetime | None = None  # true time of the boot (None: no monotonic clock sent)
    boot_id: str = ""

    @classmethod
    def of(cls, plan: DevicePlan, day_start: datetime, seed: int) -> TabletClock:
        def at(seconds: float | None) -> datetime | None:
            return None if seconds is None else day_start + timedelta(seconds=seconds)

        return cls(
            skew=timedelta(seconds=plan.skew_s),
            corrected_at=at(plan.correct_at_s),
            skew_after=timedelta(seconds=plan.skew_after_s),
            booted=at(plan.boot_s),
            boot_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{plan.name}/{seed}/boot")),
        )

    def wrong_at(self, when: datetime) -> bool:
        """Whether the wall clock still has its first, uncorrected skew at `when`."""
        return self.corrected_at is not None and when < self.corrected_at

    def wall(self, when: datetime) -> datetime:
        """What the wall clock reads at true time `when`."""
        corrected = self.corrected_at is not None and when >= self.corrected_at
        return when + (self.skew_after if corrected else self.skew)

    def reading(self, when: datetime) -> dict:
        """The monotonic clock at true time `when`, as wire fields (none without one)."""
        if self.booted is None:
            return {}
        elapsed_ms = round((when - self.booted).total_seconds() * 1000)
        return {"boot_id": self.boot_id, "elapsed_ms": elapsed_ms}


def plan_clocks(opts: Options, devices: list[DevicePlan]) -> None:
    """A share (`clock_corrected`, at least one tablet when above 0) of the tablets runs its
    wall clock 3 to 9 times `clock_skew_min` wrong and has it corrected when signal first
    returns mid-day, with events queued under the wrong time; these send their monotonic
    clock. A separate random stream, so the rest of the day is planned as without them."""
    rng = random.Random(f"{opts.seed}/clocks")
    if opts.clock_corrected <= 0 or opts.clock_skew_min <= 0 or not devices:
        return
    count = max(1, round(len(devices) * opts.clock_corrected))
    for device in rng.sample(devices, min(count, len(devices))):
        minutes = rng.uniform(3, 9) * opts.clock_skew_min
        device.skew_s = rng.choice((-1, 1)) * minutes * 60
        device.skew_after_s = rng.uniform(-0.5, 0.5)
        device.boot_s = -rng.uniform(3600, 30 * 3600)  # booted before the day started
        # Signal returns at the end of a window without it: the clock is set, then sent.
        span = sum(c.gap_before_s + c.duration_s for c in device.cases)
        ends = [end for _, end in device.offline if device.start_s < end < device.start_s + span]
        device.correct_at_s = ends[len(ends) // 2] if ends else device.start_s + span / 2
