"""The devices of a group of pushes: their rows locked, their clocks' offsets estimated.

Device rows are locked in device_id order, before any case row (cases/changes.py), so two
groups settling at once on PostgreSQL never each hold what the other waits for; a device's
pushes thus settle one group after the other, the second finding what the first stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.sql import bind_value, insert_rows, loader, select_each
from sync.clock_offsets import (
    OFFSET_WINDOW,
    OFFSET_WINDOW_SAMPLES,
    estimate_offset_ms,
    offset_sample_ms,
)
from sync.models import ClockSample, Device

DEVICES = Device.__table__
SAMPLES = ClockSample.__table__


@dataclass
class DeviceState:
    """A device row as a group reads and then writes it (plain values, no ORM tracking)."""

    device_id: str
    surveyor_id: int
    acked_through: int
    max_seq: int
    clock_offset_ms: int = 0
    last_push_at: datetime | None = None


# Built once: every group of pushes runs these.
_LOCKED = (
    select(DEVICES.c.device_id, DEVICES.c.surveyor_id)
    .add_columns(DEVICES.c.acked_through, DEVICES.c.max_seq)
    .where(DEVICES.c.device_id.in_(bindparam("ids", expanding=True)))
    .order_by(DEVICES.c.device_id)
    .with_for_update()
)
_SAVE = (
    update(DEVICES)
    .where(DEVICES.c.device_id == bindparam("b_device_id"))
    .values(
        acked_through=bindparam("b_acked_through"),
        max_seq=bindparam("b_max_seq"),
        clock_offset_ms=bindparam("b_clock_offset_ms"),
        last_push_at=bindparam("b_last_push_at"),
    )
)


async def lock_devices(
    session: AsyncSession, first_push: dict[str, tuple[int, datetime]]
) -> dict[str, DeviceState]:
    """Lock (creating those never seen: owned by the surveyor of their first push, given as
    device_id -> (surveyor_id, received at)) every device of a group, in device_id order."""
    ids = sorted(first_push)
    conn = await session.connection()
    states = {row[0]: DeviceState(*row) for row in await conn.execute(_LOCKED, {"ids": ids})}
    new = [device_id for device_id in ids if device_id not in states]
    if new:
        await insert_rows(
            conn,
            DEVICES,
            [
                dict(
                    device_id=device_id,
                    surveyor_id=first_push[device_id][0],
                    first_seen_at=first_push[device_id][1],
                    last_push_at=first_push[device_id][1],
                    acked_through=0,
                    max_seq=0,
                    clock_offset_ms=0,
                )
                for device_id in new
            ],
            skip_conflicts=True,
        )
        for row in await conn.execute(_LOCKED, {"ids": new}):
            states[row[0]] = DeviceState(*row)
    return states


async def save_devices(session: AsyncSession, states: Sequence[DeviceState]) -> None:
    """Where each device's queue and clock stand after the group (one statement)."""
    changed = [s for s in states if s.last_push_at is not None]
    if not changed:
        return
    rows = [
        dict(
            b_device_id=s.device_id,
            b_acked_through=s.acked_through,
            b_max_seq=s.max_seq,
            b_clock_offset_ms=s.clock_offset_ms,
            b_last_push_at=s.last_push_at,
        )
        for s in changed
    ]
    await (await session.connection()).execute(_SAVE, rows)


async def recent_samples(
    session: AsyncSession, device_ids: Sequence[str], since: datetime
) -> dict[str, list[tuple[datetime, int]]]:
    """Each device's newest OFFSET_WINDOW_SAMPLES clock samples since `since`, oldest first:
    all that `estimate_offset_ms` keeps, whatever this group adds to them."""
    # One walk back down each device's index, however many samples it has in the window (a
    # tablet pushing every few seconds has thousands), not a window function over them all.
    conn = await session.connection()
    after = bind_value(SAMPLES.c.received_at, conn.dialect, since)
    rows = await select_each(
        conn,
        f"SELECT device_id, received_at, offset_ms, id FROM {SAMPLES.name}"
        f" WHERE device_id = ? AND received_at >= ? ORDER BY id DESC"
        f" LIMIT {OFFSET_WINDOW_SAMPLES}",
        [(device_id, after) for device_id in sorted(set(device_ids))],
    )
    load = loader(SAMPLES.c.received_at, conn.dialect)
    recent: dict[str, list[tuple[int, datetime, int]]] = {}
    for device_id, at, ms, row_id in rows:
        recent.setdefault(device_id, []).append((row_id, load(at), ms))
    return {d: [(at, ms) for _, at, ms in sorted(samples)] for d, samples in recent.items()}


class ClockOffsets:
    """The offset estimate of each push of a group, each seeing the samples of the pushes
    before it; the group's samples are written in one statement at the end."""

    def __init__(self, recent: dict[str, list[tuple[datetime, int]]]) -> None:
        self.recent = recent
        self.samples: list[dict] = []

    @classmethod
    async def read(
        cls, session: AsyncSession, pushes: Sequence[tuple[str, datetime]]
    ) -> ClockOffsets:
        """For pushes given as (device_id, received at)."""
        if not pushes:
            return cls({})
        since = min(now for _, now in pushes) - OFFSET_WINDOW
        return cls(await recent_samples(session, [d for d, _ in pushes], since))

    def estimate(self, device_id: str, sent_at: datetime, now: datetime) -> int:
        sample = offset_sample_ms(sent_at, now)
        recent = self.recent.setdefault(device_id, [])
        recent.append((now, sample))
        self.samples.append(
            dict(device_id=device_id, sent_at=sent_at, received_at=now, offset_ms=sample)
        )
        return estimate_offset_ms(recent, now)

    async def save(self, session: AsyncSession) -> None:
        await insert_rows(await session.connection(), SAMPLES, self.samples)


async def estimate_offset(
    session: AsyncSession, device_id: str, sent_at: datetime, now: datetime
) -> int:
    """One push's offset estimate without writing its sample (a replay's answer)."""
    offsets = await ClockOffsets.read(session, [(device_id, now)])
    return offsets.estimate(device_id, sent_at, now)
