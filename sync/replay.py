"""Answering a re-sent batch from what is stored: no write when nothing in it is new.

A tablet that lost an answer (cut connection, timeout) re-sends the same batch. Nothing in
it can change anything, so it is answered from a read: on SQLite it needs no turn at the
one writer, and replays run at read speed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sync.decide import decide_batch
from sync.devices import estimate_offset
from sync.held import read_held
from sync.models import Device
from sync.push import Outcome, Push, media_wanted, referenced_media, results_of
from sync.settlement import settled_position


async def replay_settled(
    session: AsyncSession, push: Push, saw_settled: Callable[[str, int], None] | None = None
) -> Outcome | None:
    """The answer to a push whose every packet is already settled, read without writing.

    A tablet that lost an answer re-sends the same batch; nothing in it changes anything,
    so it needs no write transaction (on SQLite, no turn at the one writer). None when
    anything in the push is new, or the device is not (yet) this surveyor's: then the
    push takes the full path, which also decides those cases.
    """
    surveyor, device_id, sent_at, packets, now = push.fields()
    # A plain row, not an ORM object: most pushes are new, and this read only rules that in.
    found = await session.execute(select(*Device.__table__.c).where(Device.device_id == device_id))
    device = found.first()
    if not packets or device is None or device.surveyor_id != surveyor.id:
        return None
    if saw_settled is not None:  # what the caller may remember of the device
        saw_settled(device_id, device.max_seq)
    if max(p.packet.seq for p in packets) > device.max_seq:
        return None  # a seq the device has never had settled: something here is new
    # Decided as a push would, against what is stored; anything to write means it is new.
    decisions = decide_batch(packets, await read_held(session, device_id, packets, None))
    if any(d.write is not None for d in decisions):
        return None
    results = results_of(packets, decisions)
    acked, missing = await settled_position(session, device, device.max_seq, [])
    return Outcome(
        results=results,
        acked_through=acked,
        missing=missing,
        clock_offset_ms=await estimate_offset(session, device_id, sent_at, now),
        media_wanted=await media_wanted(session, referenced_media(packets, results)),
    )
