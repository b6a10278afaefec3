"""Where a device's queue stands: the seq up to which all is settled, and the holes above it.

A seq is held once a packet is stored under it or a conflicting one is kept under it (a
conflict is settled like any rejection). Only the seqs above the last settled position are
read, so the cost follows how much is out of order, not how long the tablet has been in
service.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Packet
from sync.models import PacketConflict

# A tablet is told at most this many holes at once; it resends those first anyway.
MAX_MISSING = 1000


async def settled_position(
    session: AsyncSession, device: Any, prior_max_seq: int, batch_held: list[int]
) -> tuple[int, list[int]]:
    """(acked_through, missing) for a device (anything with its device_id, acked_through and
    max_seq) after a push that made `batch_held` held.

    When nothing above the settled position was held before this push (the usual, in-order
    case), the batch alone says what is held above it and the log is not read.
    """
    acked = device.acked_through
    if device.max_seq <= acked:
        return acked, []
    if prior_max_seq <= acked:
        held = sorted({seq for seq in batch_held if seq > acked})
    else:
        held = sorted(
            set(
                await session.scalars(
                    select(Packet.seq).where(
                        Packet.device_id == device.device_id, Packet.seq > acked
                    )
                )
            )
            | set(
                await session.scalars(
                    select(PacketConflict.seq).where(
                        PacketConflict.device_id == device.device_id, PacketConflict.seq > acked
                    )
                )
            )
        )
    missing: list[int] = []
    expected = acked + 1
    contiguous = True
    for seq in held:
        if seq != expected:
            contiguous = False
            missing.extend(range(expected, min(seq, expected + MAX_MISSING - len(missing))))
        if contiguous:
            acked = seq
        expected = seq + 1
        if len(missing) >= MAX_MISSING:
            break
    if len(missing) < MAX_MISSING and expected <= device.max_seq:
        missing.extend(
            range(expected, min(device.max_seq + 1, expected + MAX_MISSING - len(missing)))
        )
    return acked, missing
