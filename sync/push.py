"""Ingest of a tablet's push: every packet settled exactly once, whatever is re-sent or raced.

A push runs in one transaction that starts by locking the device's row, so two flushes of
the same queue (a retry racing the original, two app processes) run one after the other:
the second finds what the first stored and reports it as duplicates. Uniqueness of
`packet_id` and of (`device_id`, `seq`) is also enforced by the database, and inserts skip
rather than fail on a row another transaction got in first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.changes import cases_changed, lock_cases
from cases.limits import Tiers
from cases.models import Case, Dispatch, Packet, User
from cases.recalc import recalc_cases, record_track
from cases.refusal import Conflict
from cases.sql import insert
from cases.timeline import TRACK
from media.models import MediaObject, PacketMedia
from sync.chain import chained, extend_chains
from sync.clock_offsets import (
    OFFSET_WINDOW,
    OFFSET_WINDOW_SAMPLES,
    estimate_offset_ms,
    monotonic_at,
    offset_sample_ms,
)
from sync.decide import CONFLICT, Decision, Held, Prior, decide_batch
from sync.models import ClockSample, Device, PacketConflict
from sync.packets import Packet as WirePacket
from sync.settlement import settled_position


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
    # Cases with newly accepted packets: their pull state must follow.
    changed_case_ids: set[str] = field(default_factory=set)
    # Of those, the cases that got milestones (anything but track): their timings follow.
    milestone_case_ids: set[str] = field(default_factory=set)
    # Newly accepted track packets (position fixes), as rows with Packet's attributes.
    track: list[SimpleNamespace] = field(default_factory=list)


@dataclass
class DeviceState:
    """A device row as a push reads and then writes it (plain values, no ORM tracking)."""

    device_id: str
    surveyor_id: int
    acked_through: int
    max_seq: int


async def _lock_device(
    session: AsyncSession, device_id: str, surveyor: User, now: datetime
) -> DeviceState:
    devices = Device.__table__
    locked = (
        select(devices.c.device_id, devices.c.surveyor_id)
        .add_columns(devices.c.acked_through, devices.c.max_seq)
        .where(devices.c.device_id == device_id)
        .with_for_update()
    )
    row = (await session.execute(locked)).first()
    if row is None:
        await session.execute(
            insert(session, Device)
            .values(
                device_id=device_id,
                surveyor_id=surveyor.id,
                first_seen_at=now,
                last_push_at=now,
                acked_through=0,
                max_seq=0,
                clock_offset_ms=0,
            )
            .on_conflict_do_nothing(index_elements=["device_id"])
        )
        row = (await session.execute(locked)).first()
    assert row is not None
    device = DeviceState(*row)
    if device.surveyor_id != surveyor.id:  # the whole push is refused, nothing stored
        raise Conflict("device_id", "this device belongs to another surveyor")
    return device


async def _clock_offset(
    session: AsyncSession, device_id: str, sent_at: datetime, now: datetime
) -> int:
    estimate = await estimate_offset(session, device_id, sent_at, now)
    await session.execute(
        insert(session, ClockSample).values(
            device_id=device_id,
            sent_at=sent_at,
            received_at=now,
            offset_ms=offset_sample_ms(sent_at, now),
        )
    )
    return estimate


async def estimate_offset(
    session: AsyncSession, device_id: str, sent_at: datetime, now: datetime
) -> int:
    """The offset estimate from the device's recent samples and this push's own.

    `estimate_offset_ms` keeps the newest OFFSET_WINDOW_SAMPLES samples, this push's own
    among them, so reading that many stored ones is always enough."""
    rows = await session.execute(
        select(ClockSample.received_at, ClockSample.offset_ms)
        .where(ClockSample.device_id == device_id)
        .where(ClockSample.received_at >= now - OFFSET_WINDOW)
        .order_by(ClockSample.id.desc())
        .limit(OFFSET_WINDOW_SAMPLES)
    )
    recent = [(at, ms) for at, ms in reversed(rows.all())]
    recent.append((now, offset_sample_ms(sent_at, now)))
    return estimate_offset_ms(recent, now)


async def read_held(
    session: AsyncSession, device_id: str, packets: Sequence[Incoming], surveyor: User | None
) -> Held:
    """What the store holds under these packets' ids and seqs (and, given the sender, which
    of their cases exist and were ever dispatched to them): what `decide` needs."""
    held = Held(device_id)
    if not packets:
        return held
    ids = [p.packet_id for p in packets]
    seqs = [p.seq for p in packets]
    rows = await session.execute(
        select(Packet.packet_id, Packet.device_id, Packet.seq, Packet.digest)
        .add_columns(Packet.status, Packet.reason)
        .where(
            or_(
                Packet.packet_id.in_(ids),
                and_(Packet.device_id == device_id, Packet.seq.in_(seqs)),
            )
        )
    )
    for pid, dev, seq, dig, status, reason in rows:
        held.by_id[pid] = Prior(dev, dig, status, reason)
        if dev == device_id:
            held.by_seq[seq] = pid
    kept = await session.execute(
        select(PacketConflict.seq, PacketConflict.packet_id, PacketConflict.digest)
        .where(PacketConflict.device_id == device_id, PacketConflict.seq.in_(seqs))
        .order_by(PacketConflict.id)
    )
    for seq, pid, dig in kept:
        held.conflicts.setdefault(seq, set()).add(dig)
        held.by_seq.setdefault(seq, pid)  # a seq settled by a conflict is held all the same
    if surveyor is not None:
        dispatched_here = (
            select(Dispatch.id)
            .where(Dispatch.case_id == Case.id, Dispatch.surveyor_id == surveyor.id)
            .exists()
        )
        case_ids = {p.case_id for p in packets}
        for case_id, mine in await session.execute(
            select(Case.id, dispatched_here).where(Case.id.in_(case_ids))
        ):
            held.known_cases.add(case_id)
            if mine:
                held.ever_mine.add(case_id)
    return held


async def ingest_push(
    session: AsyncSession,
    push: Push,
    *,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
) -> Outcome:
    """Settle every packet of a push and bring what derives from them up to date (timings,
    last known positions, the pull feed); the caller commits before answering the tablet.
    Held packets join a timeline when a dispatch follows within `irregular_window`; a GPS
    fix older than an event's other times by more than `stale_fix` is not its time.
    """
    outcome = await _settle(session, push)
    # Case locks in id order before the feed counter (see cases/changes.py).
    await lock_cases(session, outcome.changed_case_ids)
    await recalc_cases(
        session,
        outcome.milestone_case_ids,
        tiers=tiers,
        irregular_window=irregular_window,
        stale_fix=stale_fix,
    )
    await record_track(session, outcome.track, stale_fix=stale_fix)
    await cases_changed(session, outcome.changed_case_ids, push.now)
    return outcome


async def _settle(session: AsyncSession, push: Push) -> Outcome:
    """Decide every packet (sync/decide.py), then write what was decided."""
    surveyor, device_id, sent_at, packets, now = push.fields()
    device = await _lock_device(session, device_id, surveyor, now)
    offset_ms = await _clock_offset(session, device_id, sent_at, now)
    decisions = decide_batch(packets, await read_held(session, device_id, packets, surveyor))

    results = results_of(packets, decisions)
    logged = [(p, d) for p, d in zip(packets, decisions, strict=True) if d.write == "log"]
    new_rows = [_log_row(p, d, push, offset_ms) for p, d in logged]
    conflicts = [
        _as_received(p, device_id, now)
        for p, d in zip(packets, decisions, strict=True)
        if d.write == "conflict"
    ]

    lost: set[str] = set()
    if new_rows:
        inserted = await session.scalars(
            insert(session, Packet)
            .on_conflict_do_nothing()
            .returning(Packet.__table__.c.packet_id),
            new_rows,
        )
        # Another device stored these packet_ids between our look-up and insert: they are
        # conflicts after all, kept as such so that their seqs stay settled.
        lost = {r["packet_id"] for r in new_rows} - set(inserted)
        results = [
            Result(r.packet_id, "rejected", CONFLICT) if r.packet_id in lost else r for r in results
        ]
        conflicts += [_as_received(p, device_id, now) for p, _ in logged if p.packet_id in lost]
        await extend_chains(session, chained(new_rows, [p.packet.media for p, _ in logged], lost))
    if conflicts:
        await session.execute(insert(session, PacketConflict), conflicts)

    accepted = [r for r in new_rows if r["status"] == "accepted" and r["packet_id"] not in lost]
    media_rows = [
        dict(packet_id=r["packet_id"], sha256=sha, case_id=r["case_id"], category=r["category"])
        for r, (p, _) in zip(new_rows, logged, strict=True)
        if r["status"] in ("accepted", "held") and r["packet_id"] not in lost
        for sha in dict.fromkeys(p.packet.media)
    ]
    if media_rows:
        await session.execute(insert(session, PacketMedia).on_conflict_do_nothing(), media_rows)

    held_seqs = [p.seq for p in packets]  # every packet decided settles its seq
    prior_max_seq = device.max_seq
    device.max_seq = max(device.max_seq, max(held_seqs, default=0))
    acked, missing = await settled_position(session, device, prior_max_seq, held_seqs)
    await session.execute(
        update(Device.__table__)
        .where(Device.__table__.c.device_id == device_id)
        .values(
            acked_through=acked,
            max_seq=device.max_seq,
            clock_offset_ms=offset_ms,
            last_push_at=now,
        )
    )
    return Outcome(
        results=results,
        acked_through=acked,
        missing=missing,
        clock_offset_ms=offset_ms,
        media_wanted=await media_wanted(session, referenced_media(packets, results)),
        changed_case_ids={r["case_id"] for r in accepted},
        milestone_case_ids={r["case_id"] for r in accepted if r["kind"] != TRACK},
        track=[SimpleNamespace(**r) for r in accepted if r["kind"] == TRACK],
    )


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
    held = set(
        await session.scalars(select(MediaObject.sha256).where(MediaObject.sha256.in_(wanted)))
    )
    return [sha for sha in wanted if sha not in held]
