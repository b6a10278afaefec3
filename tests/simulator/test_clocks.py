"""The simulator's tablet clocks: a far wrong wall clock corrected when signal returns,
with events queued under it, and the monotonic clock such a tablet sends."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from simulator.clocks import TabletClock
from simulator.plan import Options, plan_day
from tests.factories import T0


def _without_clocks(devices):
    fields = ("skew_s", "correct_at_s", "skew_after_s", "boot_s")
    return [{k: v for k, v in vars(d).items() if k not in fields} for d in devices]


def test_a_share_of_tablets_is_far_wrong_and_corrected_when_signal_returns():
    opts = Options(devices=6, cases=12, clock_skew_min=10, clock_corrected=0.3, offline=0.3)
    devices = plan_day(opts, "t")
    corrected = [d for d in devices if d.correct_at_s is not None]
    assert len(corrected) == 2  # 30% of 6, rounded
    for d in corrected:
        assert 30 * 60 <= abs(d.skew_s) <= 90 * 60 and abs(d.skew_after_s) <= 0.5
        assert d.boot_s is not None and d.boot_s < 0  # booted before the day
        assert d.correct_at_s in [end for _, end in d.offline]  # as signal came back
    plain = [d for d in devices if d.correct_at_s is None]
    assert all(d.boot_s is None and abs(d.skew_s) <= 600 for d in plain)
    # The rest of the day is planned as it would be without them.
    none = plan_day(dataclasses.replace(opts, clock_corrected=0), "t")
    assert _without_clocks(none) == _without_clocks(devices)
    assert all(d.correct_at_s is None and d.boot_s is None for d in none)


def test_the_wall_clock_changes_at_the_correction_and_the_monotonic_one_does_not():
    opts = Options(devices=1, cases=2, clock_corrected=1.0, offline=0.3, seed=3)
    (device,) = plan_day(opts, "t")
    clock = TabletClock.of(device, T0, opts.seed)
    corrected_at = T0 + timedelta(seconds=device.correct_at_s)
    before, after = corrected_at - timedelta(seconds=1), corrected_at + timedelta(seconds=1)
    assert clock.wall(before) - before == timedelta(seconds=device.skew_s)
    assert clock.wall(after) - after == timedelta(seconds=device.skew_after_s)
    assert clock.wrong_at(before) and not clock.wrong_at(after)
    first, second = clock.reading(before), clock.reading(after)
    assert first["boot_id"] == second["boot_id"]
    assert second["elapsed_ms"] - first["elapsed_ms"] == 2000  # two true seconds
    assert TabletClock(skew=timedelta(minutes=3)).reading(T0) == {}  # an old tablet
