"""A case's timeline: its accepted packets as events, each with the time we believe and why.

Pure functions over rows already loaded (anything with the attributes of a `Packet` row),
so the same code serves a push, a review, `kancha recalc` and the bench.

Time of an event, best first (`source`):
- `gps`: the GPS fix_time, when it is *plausible*: not after the server received the
  packet (nothing happens after it arrives) and within `FIX_AGREEMENT` of the corrected
  device time (a fix that far off is a stale cached fix, not the moment of the event).
- `device_corrected`: the tablet's clock corrected by the offset the server estimated for
  that push (`corrected_at`), when it is not after the server's receipt.
- `server_received`: the server's receipt time, an upper bound that is always true.

Order: within a device by `seq` (the order the tablet recorded), devices merged by time.
An event's times are never rewritten to fit the order; a disagreement is flagged instead.

`position` packets are the track a surveyor drove, not milestones: no timing reads them and
the order check skips them, so timings recalculated without the track (as a push does, to
stay cheap however long the drive) are the same as those computed with it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from cases.geo import distance_m

TRACK = "position"  # the kind of packet that is track, not milestone
FIX_AGREEMENT = timedelta(minutes=5)
# A packet held because its case was not dispatched to its sender (an irregular report)
# joins the timeline when a dispatch to the sender follows within a window of its receipt:
# `irregular_window`, passed down from Settings.irregular_window_seconds (default 24 h).
FAR_FROM_SCENE_M = 500.0

# Event flags (also carried into the timings these events end).
BEFORE_DISPATCH = "before_dispatch"  # stamped before the dispatch it answers
BEFORE_REPORT = "before_report"  # stamped before the accident was reported
FAR_FROM_SCENE = "far_from_scene"  # arrival fix > 500 m from the case location
ARRIVAL_WITHOUT_FIX = "arrival_without_fix"  # an arrival with no GPS position at all
FIX_INACCURATE = "fix_inaccurate"  # arrival fix whose accuracy is worse than 500 m
GPS_TIME_IMPLAUSIBLE = "gps_time_implausible"  # fix_time given but not believed
DEVICE_TIME_AFTER_RECEIPT = "device_time_after_receipt"  # corrected clock in the future
TIME_BEFORE_PREVIOUS = "time_before_previous"  # earlier than the device's previous seq
NOT_DISPATCHED_SURVEYOR = "not_dispatched_surveyor"  # sender did not hold the case then
# Sent before the dispatch reached the system, which then followed: legitimate (不规则报案).
BEFORE_DISPATCH_IRREGULAR = "before_dispatch_irregular"


@dataclass(frozen=True)
class CaseFacts:
    lat: float
    lon: float
    reported_at: datetime
    zone: str
    simple_procedure: bool


@dataclass(frozen=True)
class DispatchFact:
    surveyor_id: int
    dispatched_at: datetime
    # scene | estimate | resurvey | documents: only a scene dispatch restarts scene timings.
    purpose: str = "scene"
    # The surveyor's team when dispatched: whose limits the timings answering it use.
    team: str | None = None


@dataclass
class Event:
    packet_id: str
    device_id: str
    seq: int
    surveyor_id: int
    kind: str
    time: datetime
    source: str
    received_at: datetime
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    category: str | None = None
    amount: float | None = None
    flags: list[str] = field(default_factory=list)
    # Index of the dispatch this event answers (None: its sender did not hold the case).
    dispatch: int | None = None
    # Held on arrival (its case was not dispatched to the sender yet): an irregular report.
    held: bool = False


def event_time(row: Any) -> tuple[datetime, str, list[str]]:
    """(time, source, flags) of one stored packet, as the module docstring decides."""
    flags: list[str] = []
    received, corrected, fix = row.received_at, row.corrected_at, row.fix_time
    if fix is not None:
        if fix <= received and abs(fix - corrected) <= FIX_AGREEMENT:
            return fix, "gps", flags
        flags.append(GPS_TIME_IMPLAUSIBLE)
    if corrected <= received:
        return corrected, "device_corrected", flags
    flags.append(DEVICE_TIME_AFTER_RECEIPT)
    return received, "server_received", flags


class _Amount(msgspec.Struct):
    data: dict[str, Any] = {}


def estimate_amount(body: bytes | None, body_format: str) -> float | None:
    """The yuan amount of a stored estimate_submitted packet (checked on the way in)."""
    if body is None:
        return None
    decode = msgspec.msgpack.decode if body_format == "msgpack" else msgspec.json.decode
    try:
        amount = decode(body, type=_Amount).data.get("amount")
    except msgspec.DecodeError:
        return None
    return float(amount) if isinstance(amount, int | float) else None


def to_event(row: Any) -> Event:
    time, source, flags = event_time(row)
    amount = None
    if row.kind == "estimate_submitted":
        amount = estimate_amount(row.body, row.body_format)
    return Event(
        packet_id=row.packet_id,
        device_id=row.device_id,
        seq=row.seq,
        surveyor_id=row.surveyor_id,
        kind=row.kind,
        time=time,
        source=source,
        received_at=row.received_at,
        lat=row.lat,
        lon=row.lon,
        accuracy_m=row.accuracy_m,
        category=row.category,
        amount=amount,
        flags=flags,
        held=getattr(row, "status", "accepted") == "held",
    )


def _in_effect(dispatches: Sequence[DispatchFact], received_at: datetime) -> int | None:
    """Index of the last dispatch made at or before the server received a packet."""
    found = None
    for index, dispatch in enumerate(dispatches):
        if dispatch.dispatched_at <= received_at:
            found = index
    return found


def build_timeline(
    case: CaseFacts,
    rows: Iterable[Any],
    dispatches: Sequence[DispatchFact],
    irregular_window: timedelta,
) -> list[Event]:
    """The case's ordered events from its accepted (and held) packet rows, with flags; a
    held row joins only when a dispatch to its sender follows within `irregular_window`.

    The result depends only on the set of rows, never on the order they arrived in.
    """
    by_device: dict[str, list[Event]] = {}
    for row in rows:
        event = to_event(row)
        if event.held:
            answered = irregular_dispatch(
                dispatches, event.surveyor_id, event.received_at, irregular_window
            )
            if answered is None:
                continue  # no dispatch followed (yet): it stays out of the timeline
            event.dispatch = answered
        by_device.setdefault(row.device_id, []).append(event)
    streams = []
    for device_id in sorted(by_device):
        events = sorted(by_device[device_id], key=lambda e: e.seq)
        milestones = [e for e in events if e.kind != TRACK]
        for previous, event in itertools.pairwise(milestones):
            if event.time < previous.time:
                event.flags.append(TIME_BEFORE_PREVIOUS)
        streams.append(events)
    timeline = list(heapq.merge(*streams, key=lambda e: e.time))
    for event in timeline:
        _judge(case, dispatches, event)
    return timeline


def irregular_dispatch(
    dispatches: Sequence[DispatchFact],
    surveyor_id: int,
    received_at: datetime,
    window: timedelta,
) -> int | None:
    """The first dispatch to a held packet's sender made within `window` after the server
    received it: the one its event answers. None: it stays held, out of the timeline."""
    for index, dispatch in enumerate(dispatches):
        if (
            dispatch.surveyor_id == surveyor_id
            and received_at <= dispatch.dispatched_at <= received_at + window
        ):
            return index
    return None


def _judge(case: CaseFacts, dispatches: Sequence[DispatchFact], event: Event) -> None:
    if event.held and event.dispatch is not None:
        event.flags.append(BEFORE_DISPATCH_IRREGULAR)
        if event.time < case.reported_at:
            event.flags.append(BEFORE_REPORT)
        _judge_arrival(case, event)
        return
    index = _in_effect(dispatches, event.received_at)
    if index is None or dispatches[index].surveyor_id != event.surveyor_id:
        event.flags.append(NOT_DISPATCHED_SURVEYOR)
        # Still say whether it predates the sender's own (earlier) dispatch.
        own = [
            d
            for d in dispatches
            if d.surveyor_id == event.surveyor_id and d.dispatched_at <= event.received_at
        ]
        if own and event.time < own[-1].dispatched_at:
            event.flags.append(BEFORE_DISPATCH)
    else:
        event.dispatch = index
        if event.time < dispatches[index].dispatched_at:
            event.flags.append(BEFORE_DISPATCH)
    if event.time < case.reported_at:
        event.flags.append(BEFORE_REPORT)
    _judge_arrival(case, event)


def _judge_arrival(case: CaseFacts, event: Event) -> None:
    if event.kind == "arrived":
        if event.lat is None or event.lon is None:
            event.flags.append(ARRIVAL_WITHOUT_FIX)
        else:
            if distance_m(case.lat, case.lon, event.lat, event.lon) > FAR_FROM_SCENE_M:
                event.flags.append(FAR_FROM_SCENE)
            if event.accuracy_m is not None and event.accuracy_m > FAR_FROM_SCENE_M:
                event.flags.append(FIX_INACCURATE)
