"""Wire types of timelines, timings and reviews, shared by the case, board and pull views,
and `wire`, which builds a wire type from a row or a domain object."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from cases.models import Review
from cases.timeline import Event
from cases.timings import Timing
from cases.values import Decision, TimeSource, TimingName, TimingState

Source = TimeSource
State = TimingState
W = TypeVar("W")


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
    # The team of the dispatch the timing answers, whose KANCHA_TEAM_LIMITS apply (None:
    # no team, or a timing of the case such as report_to_arrival).
    team: str | None = None


class ReviewView(msgspec.Struct, kw_only=True):
    decision: Decision
    reason: str | None
    requested: list[str]
    reviewed_at: datetime
    estimate_packet_id: str
    # On an approval: the yuan approved (核定); below the estimate by the reduction (核减).
    approved_amount: float | None = None


class _With:
    """`base`'s attributes, with `computed` ones added or put in their place."""

    def __init__(self, base: object, computed: dict[str, Any]) -> None:
        self._base = base
        self._computed = computed

    def __getattr__(self, name: str) -> Any:
        if name in self._computed:
            return self._computed[name]
        return getattr(self._base, name)


def wire(obj: object, wire_type: type[W], **computed: Any) -> W:
    """`obj` (a row, a domain object) as `wire_type`: the fields named like its attributes
    are converted (and checked) by msgspec; `computed` gives the ones it does not have."""
    source = _With(obj, computed) if computed else obj
    return msgspec.convert(source, wire_type, from_attributes=True)


def event_view(event: Event, current_dispatch: int | None) -> EventView:
    current = event.dispatch is not None and event.dispatch == current_dispatch
    return wire(event, EventView, current=current)


def timing_view(timing: Timing, limit_key: str) -> TimingView:
    return wire(timing, TimingView, limit_key=limit_key)


def review_view(review: Review) -> ReviewView:
    requested = [c for c in review.requested.split(",") if c]
    return wire(review, ReviewView, requested=requested)


def timing_views(judged: Iterable[tuple[Timing, str]]) -> list[TimingView]:
    """Timings judged by the server's clock, each with the limit key it was judged against."""
    return [timing_view(timing, limit_key) for timing, limit_key in judged]
