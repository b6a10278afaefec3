"""The compressed clock a simulated day runs on, in the server and in the simulator alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cases.clock import ScaledClock, SystemClock, make_clock
from server.app import create_app
from server.settings import Settings, SettingsError

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def test_reads_start_at_the_anchor_and_runs_speed_times_faster() -> None:
    anchor = datetime.now(UTC) - timedelta(seconds=10)
    clock = ScaledClock(START, speed=60, anchor=anchor)
    first = clock.now()
    # At least 10 real seconds have passed since the anchor: at least 600 simulated ones.
    assert first >= START + timedelta(seconds=600)
    assert clock.now() >= first
    assert first.tzinfo is not None


def test_two_clocks_with_the_same_anchor_agree() -> None:
    anchor = datetime.now(UTC)
    one = ScaledClock(START, speed=1000, anchor=anchor)
    two = ScaledClock(START, speed=1000, anchor=anchor)
    a, b, c = one.now(), two.now(), one.now()
    # The second clock's reading lies between two readings of the first, give or take what
    # one wall-clock read can be off by (a millisecond of real time is 1 s at this speed).
    slack = timedelta(seconds=1)
    assert a - slack <= b <= c + slack


def test_settings_choose_the_clock() -> None:
    assert isinstance(make_clock(), SystemClock)
    scaled = make_clock(300, "2026-01-05T08:00:00+08:00", "2026-01-05T00:00:00Z")
    assert isinstance(scaled, ScaledClock)
    assert scaled.start == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert scaled.speed == 300


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KANCHA_CLOCK_START": "yesterday"}, "KANCHA_CLOCK_START"),
        ({"KANCHA_CLOCK_START": "2026-01-05T08:00:00"}, "KANCHA_CLOCK_START"),
        ({"KANCHA_CLOCK_SPEED": "0"}, "KANCHA_CLOCK_SPEED"),
        ({"KANCHA_CLOCK_SPEED": "2", "KANCHA_CLOCK_ANCHOR": "soon"}, "KANCHA_CLOCK_ANCHOR"),
    ],
)
def test_a_bad_clock_setting_is_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        create_app(Settings.from_env(env))
