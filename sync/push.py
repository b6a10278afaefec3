"""Ingest of tablets' pushes: every packet settled exactly once, whatever is re-sent or raced.

Pushes that arrive together are settled as a group in one transaction (sync/groups.py):
one reading of what is stored, each push decided in turn against it and what the pushes
before it decided, one statement per table for the whole group, derived state once per
case. The group starts by locking its devices' rows, so two flushes of the same queue in
two groups (a retry racing the original, two app processes) run one after the other: the
second finds what the first stored and reports it as duplicates. Uniqueness of `packet_id`
and of (`device_id`, `seq`) is also enforced by the database, and inserts skip rather than
fail on a row another transaction got in first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.changes import cases_changed, lock_cases
from cases.limits import Tiers
from cases.models import Packet, User
from cases.recalc import recalc_cases, record_track
from cases.refusal import Conflict, Refusal
from cases.sql import insert_rows
from cases.timeline import TRACK
from media.models import MediaObject, PacketMedia
from sync.chain import chained, extend_chains
from sync.clock_offsets import monotonic_at
from sync.decide import CONFLICT, Decision, decide_batch
from sync.devices import ClockOffsets, lock_devices, save_devices
from sync.held import Wanted, read_stored
from sync.models import PacketConflict
from sync.packets import Packet as WirePacket
from sync.settlement import settled_position

MEDIA = MediaObject.__table__


@dataclass(frozen=True)
class Incoming:
    """A decoded packet with the exact bytes it arrived as and its canonical digest."""

    packet: WirePacket
    body: bytes
    body_format: str
    digest: str
    # Why the packet is settled as rejected whatever its case (see packets.refusal).
    refusal: str | None = None

    # What sync/decide.py reads of it.
    @property
    def packet_id(self) -> str:
        return self.packet.packet_id

    @property
    def seq(self) -> int:
        return self.packet.seq

    @property
    def case_id(self) -> str:
        return self.packet.case_id


@dataclass(frozen=True)
class Push:
    """One push as the server takes it: who sent it, from which tablet, its clock's `sent_at`,
    its decoded packets, the server's time of receipt, and the tablet's monotonic clock at
    sending (boot, ms since it), when the tablet sends one."""

    surveyor: User
    device_id: str
    sent_at: datetime
    packets: Sequence[Incoming]
    now: datetime
    boot_id: str | None = None
    elapsed_ms: int | None = None

    def fields(self) -> tuple[User, str, datetime, Sequence[Incoming], datetime]:
        return self.surveyor, self.device_id, self.sent_at, self.packets, self.now


@dataclass(frozen=True)
class Result:
    packet_id: str
    status: str  # accepted | duplicate | rejected
    reason: str | None = None


@dataclass
class Outcome:
    results: list[Result]
    acked_through: int
    missing: list[int]
    clock_offset_ms: int
    media_wanted: list[str]


class Regroup(Exception):
    """Another transaction stored some of a group's packets between its reading and its
    insert: the group is rolled back and its pushes settled one by one (sync/groups.py)."""


@dataclass
class _Settling:
    """One push of a group as it is decided, then written."""

    push: Push
    offset_ms: int
    decisions: list[Decision]
    results: list[Result] = field(default_factory=list)
    new_rows: list[dict] = field(default_factory=list)
    logged: list[Incoming] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)
    acked: int = 0
    missing: list[int] = field(default_factory=list)


async def ingest_push(
    session: AsyncSession,
    push: Push,
    *,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
) -> Outcome:
    """Settle one push alone (a group of one); a refusal is raised."""
    (answer,) = await ingest_group(
        session, [push], tiers=tiers, irregular_window=irregular_window, stale_fix=stale_fix
    )
    if isinstance(answer, Refusal):
        raise answer
    return answer


async def ingest_group(
    session: AsyncSession,
    pushes: Sequence[Push],
    *,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
) -> list[Outcome | Refusal]:
    """Settle every packet of a group of pushes, in their order, and bring what derives from
    them up to date (timings, last known positions, the pull feed) once per case for the
    whole group; the caller commits before any tablet hears its answer. A push refused
    whole (a device that is another surveyor's) gets its refusal and writes nothing.
    Held packets join a timeline when a dispatch follows within `irregular_window`; a GPS
    fix older than an event's other times by more than `stale_fix` is not its time.
    """
    first: dict[str, tuple[int, datetime]] = {}
    for push in pushes:
        first.setdefault(push.device_id, (push.surveyor.id, push.now))
    devices = await lock_devices(session, first)
    answers: list[Outcome | Refusal | None] = [None] * len(pushes)
    taken: list[int] = []
    for i, push in enumerate(pushes):
        if devices[push.device_id].surveyor_id != push.surveyor.id:
            answers[i] = Conflict("device_id", "this device belongs to another surveyor")
        else:
            taken.append(i)
    group = [pushes[i] for i in taken]
    offsets = await ClockOffsets.read(session, [(p.device_id, p.now) for p in group])
    wanted = [Wanted(p.device_id, p.surveyor.id, p.packets) for p in group]
    stored = await read_stored(session, wanted)
    settling = []
    for push, reading in zip(group, wanted, strict=True):
        offset_ms = offsets.estimate(push.device_id, push.sent_at, push.now)
        decisions = decide_batch(push.packets, stored.held_for(reading))
        stored.record(push.device_id, push.packets, decisions)
        settling.append(_decided(push, offset_ms, decisions))
    await _write_log(session, settling, alone=len(pushes) == 1)
    await offsets.save(session)
    for s in settling:
        push, device = s.push, devices[s.push.device_id]
        held_seqs = [p.seq for p in push.packets]  # every packet decided settles its seq
        prior_max_seq = device.max_seq
        device.max_seq = max(device.max_seq, max(held_seqs, default=0))
        device.acked_through, missing = await settled_position(
            session, device, prior_max_seq, held_seqs
        )
        device.clock_offset_ms, device.last_push_at = s.offset_ms, push.now
        s.acked, s.missing = device.acked_through, missing
    await save_devices(session, list(devices.values()))

    referenced = {id(s): referenced_media(s.push.packets, s.results) for s in settling}
    missing_media = set(await media_wanted(session, [x for r in referenced.values() for x in r]))
    accepted = [r for s in settling for r in s.accepted]
    changed = {r["case_id"] for r in accepted}
    # Derived state once per case for the whole group; case locks in id order before the
    # feed counter (see cases/changes.py).
    await lock_cases(session, changed)
    await recalc_cases(
        session,
        {r["case_id"] for r in accepted if r["kind"] != TRACK},
        tiers=tiers,
        irregular_window=irregular_window,
        stale_fix=stale_fix,
    )
    await record_track(
        session,
        [SimpleNamespace(**r) for r in accepted if r["kind"] == TRACK],
        stale_fix=stale_fix,
    )
    await cases_changed(session, changed, max((p.now for p in group), default=None))
    for i, s in zip(taken, settling, strict=True):
        answers[i] = Outcome(
            results=s.results,
            acked_through=s.acked,
            missing=s.missing,
            clock_offset_ms=s.offset_ms,
            media_wanted=[sha for sha in dict.fromkeys(referenced[id(s)]) if sha in missing_media],
        )
    return [a for a in answers if a is not None]


def _decided(push: Push, offset_ms: int, decisions: list[Decision]) -> _Settling:
    s = _Settling(push, offset_ms, decisions, results_of(push.packets, decisions))
    for p, d in zip(push.packets, decisions, strict=True):
        if d.write == "log":
            s.logged.append(p)
            s.new_rows.append(_log_row(p, d, push, offset_ms))
        elif d.write == "conflict":
            s.conflicts.append(_as_received(p, push.device_id, push.now))
    return s


async def _write_log(session: AsyncSession, settling: list[_Settling], *, alone: bool) -> None:
    """The group's new rows of the log, its kept conflicts and its packets' media links:
    one statement each, whatever the number of pushes."""
    conn = await session.connection()
    new_rows = [r for s in settling for r in s.new_rows]
    lost: set[str] = set()
    if new_rows:
        inserted = await insert_rows(
            conn, Packet.__table__, new_rows, skip_conflicts=True, returning="packet_id"
        )
        # Another device stored these packet_ids between our look-up and insert: they are
        # conflicts after all, kept as such so that their seqs stay settled.
        lost = {r["packet_id"] for r in new_rows} - set(inserted)
        if lost and not alone:
            raise Regroup(sorted(lost))
        media = [p.packet.media for s in settling for p in s.logged]  # aligned with new_rows
        await extend_chains(session, chained(new_rows, media, lost))
    media_rows = []
    for s in settling:
        if lost:
            s.results = [
                Result(r.packet_id, "rejected", CONFLICT) if r.packet_id in lost else r
                for r in s.results
            ]
            s.conflicts += [
                _as_received(p, s.push.device_id, s.push.now)
                for p in s.logged
                if p.packet_id in lost
            ]
        s.accepted = [
            r for r in s.new_rows if r["status"] == "accepted" and r["packet_id"] not in lost
        ]
        media_rows += [
            dict(packet_id=r["packet_id"], sha256=sha, case_id=r["case_id"], category=r["category"])
            for r, p in zip(s.new_rows, s.logged, strict=True)
            if r["status"] in ("accepted", "held") and r["packet_id"] not in lost
            for sha in dict.fromkeys(p.packet.media)
        ]
    conflicts = [c for s in settling for c in s.conflicts]
    await insert_rows(conn, PacketConflict.__table__, conflicts)
    await insert_rows(conn, PacketMedia.__table__, media_rows, skip_conflicts=True)


def results_of(packets: Sequence[Incoming], decisions: Sequence[Decision]) -> list[Result]:
    return [
        Result(p.packet_id, d.status, d.reason) for p, d in zip(packets, decisions, strict=True)
    ]


def referenced_media(packets: Sequence[Incoming], results: Sequence[Result]) -> list[str]:
    """The media that packets taken (accepted now, or before: duplicates) refer to."""
    taken = ("accepted", "duplicate", "held")
    pairs = zip(packets, results, strict=True)
    return [sha for p, r in pairs if r.status in taken for sha in p.packet.media]


def _log_row(item: Incoming, decision: Decision, push: Push, offset_ms: int) -> dict:
    """The row of the packet log for a packet decided new (accepted, held or rejected)."""
    p = item.packet
    gps = p.gps
    category = p.data.get("category")
    now = push.now
    return dict(
        _as_received(item, push.device_id, now),
        case_id=p.case_id,
        surveyor_id=push.surveyor.id,
        kind=p.kind,
        status=decision.status,
        reason=decision.reason,
        occurred_at=p.occurred_at,
        clock_offset_ms=offset_ms,
        corrected_at=p.occurred_at + timedelta(milliseconds=offset_ms),
        lat=gps.lat if gps else None,
        lon=gps.lon if gps else None,
        accuracy_m=gps.accuracy_m if gps else None,
        fix_time=gps.fix_time if gps else None,
        category=category if isinstance(category, str) else None,
        boot_id=p.boot_id,
        elapsed_ms=p.elapsed_ms,
        monotonic_at=monotonic_at(now, push.boot_id, push.elapsed_ms, p.boot_id, p.elapsed_ms),
    )


def _as_received(item: Incoming, device_id: str, now: datetime) -> dict:
    """What every kept packet records of its arrival: the log and the conflicts alike."""
    return dict(
        packet_id=item.packet.packet_id,
        device_id=device_id,
        seq=item.packet.seq,
        digest=item.digest,
        body=item.body,
        body_format=item.body_format,
        received_at=now,
    )


async def media_wanted(session: AsyncSession, referenced: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(referenced))
    if not wanted:
        return []
    held = set(await session.scalars(select(MEDIA.c.sha256).where(MEDIA.c.sha256.in_(wanted))))
    return [sha for sha in wanted if sha not in held]
