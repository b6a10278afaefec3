"""The server's clock, injected everywhere a time is taken, so tests can replay a day."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


class ScaledClock:
    """A clock that runs `speed` times faster than real time, for compressed simulated days.

    It reads `start` at the real instant `anchor` (default: when it is built) and then moves
    by real elapsed time × speed, measured on the monotonic clock so that a wall-clock step
    (NTP) never makes it jump. Two processes given the same start, speed and anchor agree to
    within the precision of one wall-clock read each.
    """

    def __init__(self, start: datetime, speed: float = 1.0, anchor: datetime | None = None):
        if start.tzinfo is None or (anchor is not None and anchor.tzinfo is None):
            raise ValueError("start and anchor must be timezone-aware")
        if not 0 < speed <= 1_000_000:
            raise ValueError("speed must be above 0 and at most 1,000,000")
        self.start = start.astimezone(UTC)
        self.speed = speed
        # The wall clock is read once, between two monotonic reads whose midpoint stands for
        # it (halving the error a pre-emption between the reads would cause); monotonic after.
        before = time.monotonic()
        wall = datetime.now(UTC)
        self._base_mono = (before + time.monotonic()) / 2
        self.anchor = anchor.astimezone(UTC) if anchor is not None else wall
        self._base_elapsed = (wall - self.anchor).total_seconds()

    def now(self) -> datetime:
        elapsed = self._base_elapsed + (time.monotonic() - self._base_mono)
        return self.start + timedelta(seconds=elapsed * self.speed)


def make_clock(speed: float = 1.0, start: str = "", anchor: str = "") -> Clock:
    """The server's clock from its settings: the system clock unless a start or a speed
    other than 1 is given. Times are RFC 3339 with offset; a bad one raises ValueError."""
    if not 0 < speed <= 1_000_000:
        raise ValueError(f"clock_speed: must be above 0 and at most 1,000,000 ({speed})")
    if speed == 1.0 and not start:
        return SystemClock()
    start_at = _parse_instant("clock_start", start) if start else datetime.now(UTC)
    anchor_at = _parse_instant("clock_anchor", anchor) if anchor else None
    return ScaledClock(start_at, speed, anchor_at)


def _parse_instant(name: str, text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: not an RFC 3339 time ({text!r})") from None
    if when.tzinfo is None:
        raise ValueError(f"{name}: needs an offset, e.g. +08:00 ({text!r})")
    return when
