"""Tablet clocks: how far each tablet's clock is off the server's, judged from its pushes.

Transit only ever adds to what a push's `sent_at` says, so the smallest recent sample is
the best estimate of the offset.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# How many recent pushes, and how far back, the offset estimate looks at.
OFFSET_WINDOW_SAMPLES = 8
OFFSET_WINDOW = timedelta(hours=6)


def offset_sample_ms(sent_at: datetime, received_at: datetime) -> int:
    """One push's reading: server receipt time minus the tablet's `sent_at`."""
    return round((received_at - sent_at).total_seconds() * 1000)


def estimate_offset_ms(recent: list[tuple[datetime, int]], received_at: datetime) -> int:
    """Server clock minus tablet clock, from a device's recent (received_at, sample) pairs.

    Each sample is the true offset plus the time the push spent in transit, which is never
    negative, so the smallest recent sample is the best estimate (the push that travelled
    fastest). Looking only at a recent window lets the estimate follow a tablet whose clock
    was reset, once the old readings age out; a clock set forward shows at once.
    """
    window = [s for at, s in recent if received_at - at <= OFFSET_WINDOW][-OFFSET_WINDOW_SAMPLES:]
    if not window:
        raise ValueError("no clock samples")
    return min(window)
