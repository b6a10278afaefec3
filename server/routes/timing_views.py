"""Wire types of timelines, timings and reviews, shared by the case, board and pull views."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from cases.limits import Limits
from cases.models import Review
from cases.timeline import Event
from cases.timings import Measure, Timing, judge

Source = Literal["gps", "device_corrected", "server_received"]
TimingName = Literal["accept", "contact", "arrival", "estimate", "resubmit", "front_end_cycle"]
State = Literal["running", "met", "missed", "overdue"]


class EventView(msgspec.Struct, kw_only=True):
    packet_id: str
    seq: int
    kind: str
    time: datetime
    source: Source
    flags: list[str]
    device_id: str
    received_at: datetime
    # Whether the event answers the case's current dispatch (only those end its timings).
    current: bool


class TimingView(msgspec.Struct, kw_only=True):
    name: TimingName
    start: datetime
    end: datetime | None
    seconds: int
    limit_seconds: int
    state: State
    source: Source | None
    flags: list[str]
    # The limit's variant, e.g. `arrival.city`, `estimate.medium` (what KANCHA_LIMITS sets).
    limit_key: str


class ReviewView(msgspec.Struct, kw_only=True):
    decision: Literal["approved", "returned"]
    reason: str | None
    requested: list[str]
    reviewed_at: datetime
    estimate_packet_id: str


def event_view(event: Event, last_dispatch: int | None) -> EventView:
    return EventView(
        packet_id=event.packet_id,
        seq=event.seq,
        kind=event.kind,
        time=event.time,
        source=event.source,  # type: ignore[arg-type]
        flags=list(event.flags),
        device_id=event.device_id,
        received_at=event.received_at,
        current=event.dispatch is not None and event.dispatch == last_dispatch,
    )


def timing_view(timing: Timing, limit_key: str) -> TimingView:
    return TimingView(
        name=timing.name,  # type: ignore[arg-type]
        start=timing.start,
        end=timing.end,
        seconds=timing.seconds,
        limit_seconds=timing.limit_seconds,
        state=timing.state,  # type: ignore[arg-type]
        source=timing.source,  # type: ignore[arg-type]
        flags=list(timing.flags),
        limit_key=limit_key,
    )


def timing_views(measures: list[Measure], limits: Limits, now: datetime) -> list[TimingView]:
    return [timing_view(judge(m, limits, now), m.limit_key) for m in measures]


def review_view(review: Review) -> ReviewView:
    return ReviewView(
        decision=review.decision,  # type: ignore[arg-type]
        reason=review.reason,
        requested=[c for c in review.requested.split(",") if c],
        reviewed_at=review.reviewed_at,
        estimate_packet_id=review.estimate_packet_id,
    )
