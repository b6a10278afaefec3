"""What the desk sees of a tablet's queue: where it stands and what was turned away.

A rejected packet is settled (it never blocks the tablet's queue again), so the desk is
where someone follows it up: a packet for a case not dispatched to its sender, a re-send
under a settled packet_id with other content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Packet, User
from cases.refusal import NotFound
from sync.models import Device, PacketConflict


@dataclass(frozen=True)
class Rejection:
    packet_id: str
    seq: int
    case_id: str | None
    kind: str | None
    reason: str
    received_at: datetime


async def devices(session: AsyncSession) -> Sequence[Row[Any]]:
    """Every device with its surveyor's name (`surveyor`), most recently heard from first."""
    rows = await session.execute(
        select(*Device.__table__.columns, User.name.label("surveyor"))
        .join(User, User.id == Device.surveyor_id)
        .order_by(Device.last_push_at.desc(), Device.device_id)
    )
    return rows.all()


async def rejections(session: AsyncSession, device_id: str) -> list[Rejection]:
    """The device's rejected packets and conflicting re-sends, in seq order."""
    if await session.get(Device, device_id) is None:
        raise NotFound("", f"no device {device_id!r}")
    out = [
        Rejection(p.packet_id, p.seq, p.case_id, p.kind, p.reason or "", p.received_at)
        for p in await session.scalars(
            select(Packet).where(Packet.device_id == device_id, Packet.status == "rejected")
        )
    ]
    out += [
        Rejection(c.packet_id, c.seq, None, None, "conflict", c.received_at)
        for c in await session.scalars(
            select(PacketConflict).where(PacketConflict.device_id == device_id)
        )
    ]
    return sorted(out, key=lambda r: (r.seq, r.received_at))
