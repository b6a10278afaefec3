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
from cases.models import Case, Dispatch, Packet, User
from cases.recalc import recalc_cases, record_track
from cases.sql import insert
from cases.timeline import TRACK
from media.models import MediaObject, PacketMedia
from sync.clock_offsets import estimate_offset_ms, offset_sample_ms
from sync.models import ClockSample, Device, PacketConflict
from sync.packets import Packet as WirePacket
from sync.settlement import settled_position

CONFLICT = "conflict"
UNKNOWN_CASE = "unknown case"
NOT_YOURS = "case not dispatched to this surveyor"


class DeviceTaken(Exception):
    """The device_id belongs to another surveyor: the whole push is refused (409)."""


@dataclass(frozen=True)
class Incoming:
    """A decoded packet with the exact bytes it arrived as and its canonical digest."""

    packet: WirePacket
    body: bytes
    body_format: str
    digest: str
    # Why the packet is settled as rejected whatever its case (see packets.refusal).
    refusal: str | None = None


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
    if device.surveyor_id != surveyor.id:
        raise DeviceTaken(device_id)
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
    """The offset estimate from the device's recent samples and this push's own."""
    rows = await session.execute(
        select(ClockSample.received_at, ClockSample.offset_ms)
        .where(ClockSample.device_id == device_id)
        .where(ClockSample.received_at >= now - timedelta(hours=6))
        .order_by(ClockSample.id.desc())
        .limit(16)
    )
    recent = [(at, ms) for at, ms in reversed(rows.all())]
    recent.append((now, offset_sample_ms(sent_at, now)))
    return estimate_offset_ms(recent, now)


Prior = tuple[str, str, str, str | None]  # device_id, digest, status, reason


async def kept_conflicts(
    session: AsyncSession, device_id: str, seqs: list[int]
) -> dict[int, tuple[str, set[str]]]:
    """The conflicts this device has had kept under these seqs: seq -> (the packet_id
    first kept there, every digest kept there). A conflict settles its seq (it counts as
    held), so a re-send of it is known without being kept twice."""
    kept: dict[int, tuple[str, set[str]]] = {}
    if not seqs:
        return kept
    rows = await session.execute(
        select(PacketConflict.seq, PacketConflict.packet_id, PacketConflict.digest)
        .where(PacketConflict.device_id == device_id, PacketConflict.seq.in_(seqs))
        .order_by(PacketConflict.id)
    )
    for seq, pid, dig in rows:
        kept.setdefault(seq, (pid, set()))[1].add(dig)
    return kept


async def prior_packets(
    session: AsyncSession, device_id: str, ids: list[str], seqs: list[int]
) -> tuple[dict[str, Prior], dict[int, str]]:
    """What is already stored under these packet_ids, and which of these seqs the device
    already holds (seq -> packet_id)."""
    known: dict[str, Prior] = {}
    by_seq: dict[int, str] = {}
    if not ids:
        return known, by_seq
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
        known[pid] = (dev, dig, status, reason)
        if dev == device_id:
            by_seq[seq] = pid
    return known, by_seq


async def ingest_push(
    session: AsyncSession,
    *,
    surveyor: User,
    device_id: str,
    sent_at: datetime,
    packets: Sequence[Incoming],
    now: datetime,
) -> Outcome:
    """Settle every packet of a push and bring what derives from them up to date (timings,
    last known positions, the pull feed); the caller commits before answering the tablet.
    """
    outcome = await _settle(
        session, surveyor=surveyor, device_id=device_id, sent_at=sent_at, packets=packets, now=now
    )
    # Case locks in id order before the feed counter (see cases/changes.py).
    await lock_cases(session, outcome.changed_case_ids)
    await recalc_cases(session, outcome.milestone_case_ids)
    await record_track(session, outcome.track)
    await cases_changed(session, outcome.changed_case_ids, now)
    return outcome


async def _settle(
    session: AsyncSession,
    *,
    surveyor: User,
    device_id: str,
    sent_at: datetime,
    packets: Sequence[Incoming],
    now: datetime,
) -> Outcome:
    device = await _lock_device(session, device_id, surveyor, now)
    offset_ms = await _clock_offset(session, device_id, sent_at, now)

    ids = [p.packet.packet_id for p in packets]
    seqs = [p.packet.seq for p in packets]
    known, by_seq = await prior_packets(session, device_id, ids, seqs)
    kept = await kept_conflicts(session, device_id, seqs)
    for seq, (pid, _) in kept.items():
        by_seq.setdefault(seq, pid)  # a seq settled by a conflict is held all the same

    case_ids = {p.packet.case_id for p in packets}
    known_cases: set[str] = set()
    ever_mine: set[str] = set()  # cases ever dispatched to this surveyor
    if case_ids:
        dispatched_here = (
            select(Dispatch.id)
            .where(Dispatch.case_id == Case.id, Dispatch.surveyor_id == surveyor.id)
            .exists()
        )
        for case_id, mine in await session.execute(
            select(Case.id, dispatched_here).where(Case.id.in_(case_ids))
        ):
            known_cases.add(case_id)
            if mine:
                ever_mine.add(case_id)

    results: list[Result] = []
    new_rows: list[dict] = []
    media_rows: list[dict] = []
    conflicts: list[dict] = []
    referenced: list[str] = []
    changed: set[str] = set()
    held: list[int] = []  # seqs of this batch that the server now holds
    for item in packets:
        p = item.packet
        prior = known.get(p.packet_id)
        if prior is None and p.seq in by_seq:
            prior = (device_id, "", "", None)  # the seq is held by another packet_id
        if prior is not None:
            prior_device, prior_digest, prior_status, prior_reason = prior
            # Either way the seq is settled: a duplicate is held, a conflict is kept.
            held.append(p.seq)
            if prior_device == device_id and prior_digest == item.digest:
                if prior_status == "rejected":
                    results.append(Result(p.packet_id, "rejected", prior_reason))
                else:
                    results.append(Result(p.packet_id, "duplicate"))
                    referenced.extend(p.media)
            else:
                results.append(Result(p.packet_id, "rejected", CONFLICT))
                _keep_conflict(item, device_id, now, kept, conflicts)
                by_seq.setdefault(p.seq, p.packet_id)
            continue

        if item.refusal is not None:
            status, reason = "rejected", item.refusal
        elif p.case_id not in known_cases:
            status, reason = "rejected", UNKNOWN_CASE
        elif p.case_id not in ever_mine:
            status, reason = "rejected", NOT_YOURS
        else:
            status, reason = "accepted", None
        occurred = p.occurred_at
        gps = p.gps
        new_rows.append(
            dict(
                _as_received(item, device_id, now),
                case_id=p.case_id,
                surveyor_id=surveyor.id,
                kind=p.kind,
                status=status,
                reason=reason,
                occurred_at=occurred,
                clock_offset_ms=offset_ms,
                corrected_at=occurred + timedelta(milliseconds=offset_ms),
                lat=gps.lat if gps else None,
                lon=gps.lon if gps else None,
                accuracy_m=gps.accuracy_m if gps else None,
                fix_time=gps.fix_time if gps else None,
                category=p.data.get("category")
                if isinstance(p.data.get("category"), str)
                else None,
            )
        )
        known[p.packet_id] = (device_id, item.digest, status, reason)
        by_seq[p.seq] = p.packet_id
        held.append(p.seq)
        results.append(Result(p.packet_id, status, reason))
        if status == "accepted":
            changed.add(p.case_id)
            referenced.extend(p.media)
            category = new_rows[-1]["category"]
            media_rows.extend(
                dict(packet_id=p.packet_id, sha256=sha, case_id=p.case_id, category=category)
                for sha in dict.fromkeys(p.media)
            )

    lost: set[str] = set()
    if new_rows:
        inserted = await session.scalars(
            insert(session, Packet)
            .on_conflict_do_nothing()
            .returning(Packet.__table__.c.packet_id),
            new_rows,
        )
        lost = {r["packet_id"] for r in new_rows} - set(inserted)
        if lost:  # another device stored these packet_ids between our look-up and insert
            results = [
                Result(r.packet_id, "rejected", CONFLICT) if r.packet_id in lost else r
                for r in results
            ]
            media_rows = [m for m in media_rows if m["packet_id"] not in lost]
            changed = {
                r["case_id"]
                for r in new_rows
                if r["status"] == "accepted" and r["packet_id"] not in lost
            }
            for item in packets:  # kept as conflicts: their seqs stay settled
                if item.packet.packet_id in lost:
                    _keep_conflict(item, device_id, now, kept, conflicts)
    if media_rows:
        await session.execute(insert(session, PacketMedia).on_conflict_do_nothing(), media_rows)
    if conflicts:
        await session.execute(insert(session, PacketConflict), conflicts)

    accepted = [r for r in new_rows if r["status"] == "accepted" and r["packet_id"] not in lost]
    prior_max_seq = device.max_seq
    device.max_seq = max(device.max_seq, max(held, default=0))
    acked, missing = await settled_position(session, device, prior_max_seq, held)
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
        media_wanted=await media_wanted(session, referenced),
        changed_case_ids=changed,
        milestone_case_ids={r["case_id"] for r in accepted if r["kind"] != TRACK},
        track=[SimpleNamespace(**r) for r in accepted if r["kind"] == TRACK],
    )


def _keep_conflict(
    item: Incoming,
    device_id: str,
    now: datetime,
    kept: dict[int, tuple[str, set[str]]],
    conflicts: list[dict],
) -> None:
    """Keep a conflicting packet for the desk, once per content under its seq."""
    digests = kept.setdefault(item.packet.seq, (item.packet.packet_id, set()))[1]
    if item.digest not in digests:
        digests.add(item.digest)
        conflicts.append(_as_received(item, device_id, now))


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
