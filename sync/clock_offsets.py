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


def monotonic_at(
    received_at: datetime,
    push_boot: str | None,
    push_elapsed_ms: int | None,
    boot_id: str | None,
    elapsed_ms: int | None,
) -> datetime | None:
    """When a packet was recorded, by the tablet's monotonic clock: the push's receipt minus
    the monotonic time that passed on the tablet between recording and sending.

    Only when the packet and its push share a boot (a reboot restarts the count) and both
    carry a reading. The receipt stands for the push's sending, so the result is late by at
    most the push's transit, however wrong or corrected the tablet's wall clock was. A packet
    read after its push (a tablet's bug) gives a time after receipt: stored as it is, the
    timeline refuses it (cases/timeline.py)."""
    if push_boot is None or push_elapsed_ms is None or elapsed_ms is None:
        return None
    if boot_id != push_boot:
        return None
    return received_at - timedelta(milliseconds=push_elapsed_ms - elapsed_ms)
