"""A case's timeline: its accepted packets as events, each with the time we believe and why.

Pure functions over rows already loaded (anything with the attributes of a `Packet` row),
so the same code serves a push, a review, `kancha recalc` and the bench.

What a stored packet gives to time it:
- `received_at`: the server's receipt, an upper bound that is always true;
- `corrected_at`: the tablet's wall clock at recording plus the offset measured at the push
  that carried it (wrong when the tablet's clock was corrected between the two);
- `monotonic_at` (tablets that send `boot_id` and `elapsed_ms`): the push's receipt minus
  the monotonic time elapsed on the tablet between recording and sending, when packet and
  push share a boot. A wall-clock correction does not move the monotonic clock, so this is
  exact across corrections, late at most by the push's transit;
- `fix_time`: the GPS receiver's time of the fix, right whatever the tablet's clock says,
  but possibly an old cached fix.

The best non-GPS estimate `ref` is `monotonic_at` when given and not after receipt, else
`corrected_at` (as before tablets sent a monotonic clock). The fix is believed when it lies
in [ref - stale_fix, ref + FIX_AGREEMENT] and not after receipt: so a fix that the corrected
clock contradicts only because that clock was wrong at recording is believed once the
monotonic time vouches for it, and an old tablet (no monotonic time) is judged as before.

Time of an event, best first (`source`):
- `gps`: the fix_time, when believed. Not believed: flagged `gps_time_implausible`, and also
  `stale_fix` when the fix is older than `ref` by more than `stale_fix` (a cached fix, not
  the moment of the event) — unless `ref` itself is after receipt, so proves nothing.
- `device_monotonic`: `monotonic_at`, when not after receipt (after it is impossible, flagged
  `monotonic_after_receipt`, and the next source is taken).
- `device_corrected`: `corrected_at`, when not after receipt.
- `server_received`: the server's receipt time.

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
# A fix this much later than the best non-GPS estimate is not the moment of the event.
FIX_AGREEMENT = timedelta(minutes=5)
# A fix older than the event's other times by more than this is stale, not the event's time:
# `stale_fix`, passed down from Settings.stale_fix_seconds (this default: 300 s).
DEFAULT_STALE_FIX = timedelta(seconds=300)
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
STALE_FIX = "stale_fix"  # fix older than the event by more than the stale-fix margin
MONOTONIC_AFTER_RECEIPT = "monotonic_after_receipt"  # recorded after its push was sent
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


def event_time(
    row: Any, stale_fix: timedelta = DEFAULT_STALE_FIX
) -> tuple[datetime, str, list[str]]:
    """(time, source, flags) of one stored packet, as the module docstring decides; a fix
    older than the other times by more than `stale_fix` is stale."""
    flags: list[str] = []
    received, corrected, fix = row.received_at, row.corrected_at, row.fix_time
    monotonic = getattr(row, "monotonic_at", None)
    if monotonic is not None and monotonic > received:
        flags.append(MONOTONIC_AFTER_RECEIPT)
        monotonic = None
    ref = corrected if monotonic is None else monotonic
    if fix is not None:
        if fix <= received and ref - stale_fix <= fix <= ref + FIX_AGREEMENT:
            return fix, "gps", flags
        flags.append(GPS_TIME_IMPLAUSIBLE)
        if fix < ref - stale_fix and ref <= received:
            flags.append(STALE_FIX)
    if monotonic is not None:
        return monotonic, "device_monotonic", flags
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


def to_event(row: Any, stale_fix: timedelta = DEFAULT_STALE_FIX) -> Event:
    time, source, flags = event_time(row, stale_fix)
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
    stale_fix: timedelta = DEFAULT_STALE_FIX,
) -> list[Event]:
    """The case's ordered events from its accepted (and held) packet rows, with flags; a
    held row joins only when a dispatch to its sender follows within `irregular_window`,
    and a GPS fix older than the other times by more than `stale_fix` is not believed.

    The result depends only on the set of rows, never on the order they arrived in.
    """
    by_device: dict[str, list[Event]] = {}
    for row in rows:
        event = to_event(row, stale_fix)
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
