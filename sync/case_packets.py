"""What a case's page shows apart from its timeline: its packets that were turned away
(rejected, with the reason), re-sends that conflicted with one of its packets, and held
packets (an irregular report) that have not joined the timeline."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Packet, User
from sync.models import PacketConflict


@dataclass(frozen=True)
class ApartPacket:
    packet_id: str
    device_id: str
    seq: int
    kind: str | None
    surveyor: str | None
    reason: str
    received_at: datetime
    occurred_at: datetime | None


@dataclass
class CasePacketsApart:
    held: list[ApartPacket]
    rejected: list[ApartPacket]
    conflicts: list[ApartPacket]


def _apart(row: Packet, surveyor: str | None, reason: str) -> ApartPacket:
    return ApartPacket(
        row.packet_id,
        row.device_id,
        row.seq,
        row.kind,
        surveyor,
        reason,
        row.received_at,
        row.occurred_at,
    )


async def case_packets_apart(
    session: AsyncSession, case_id: str, in_timeline: Collection[str]
) -> CasePacketsApart:
    """The case's rejected packets, conflicting re-sends of its packets, and its held packets
    not among `in_timeline` (the packet ids of its timeline), each in receipt order."""
    rows = await session.execute(
        select(Packet, User.name)
        .join(User, User.id == Packet.surveyor_id)
        .where(Packet.case_id == case_id, Packet.status.in_(("held", "rejected")))
        .order_by(Packet.received_at, Packet.device_id, Packet.seq)
    )
    held, rejected = [], []
    for packet, name in rows.all():
        if packet.status == "rejected":
            rejected.append(_apart(packet, name, packet.reason or ""))
        elif packet.packet_id not in in_timeline:
            held.append(_apart(packet, name, packet.reason or "held"))
    same = or_(
        Packet.packet_id == PacketConflict.packet_id,
        and_(Packet.device_id == PacketConflict.device_id, Packet.seq == PacketConflict.seq),
    )
    found = await session.execute(
        select(PacketConflict, Packet.kind, User.name)
        .join(Packet, same)
        .join(User, User.id == Packet.surveyor_id)
        .where(Packet.case_id == case_id)
        .order_by(PacketConflict.received_at, PacketConflict.id)
    )
    conflicts = [
        ApartPacket(c.packet_id, c.device_id, c.seq, kind, name, "conflict", c.received_at, None)
        for c, kind, name in found.all()
    ]
    return CasePacketsApart(held, rejected, conflicts)
