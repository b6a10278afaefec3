"""cases/sql.py insert_rows against SQLAlchemy's own insert, on SQLite and PostgreSQL.

A push stores the packet log through insert_rows (one flat tuple of driver values per
statement) rather than the ORM or Core. What it stores must be exactly what the ORM would:
the same values read back, and on SQLite the same text, since SQL orders datetimes as text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from cases.models import Packet, User
from cases.sql import insert, insert_rows
from sync.devices import lock_devices
from sync.models import Device
from tests.factories import T0, count, make_user, new_id

PACKETS = Packet.__table__
CST = timezone(timedelta(hours=8))
COLUMNS = [c.name for c in PACKETS.c]


async def surveyor_with(db, *devices: str) -> int:
    """A surveyor owning `devices` (rows made the way a first push makes them)."""
    await make_user(db, "sv", "surveyor", T0)
    async with db.session() as session:
        user_id = await session.scalar(select(User.id).where(User.name == "sv"))
        await lock_devices(session, {d: (user_id, T0) for d in devices})
        await session.commit()
    return user_id


def log_row(device_id: str, seq: int, surveyor_id: int, **overrides) -> dict:
    """Every column of a packet log row, as push builds it."""
    row = dict(
        packet_id=new_id(),
        device_id=device_id,
        seq=seq,
        case_id=f"case-{seq}",
        surveyor_id=surveyor_id,
        kind="note",
        status="accepted",
        reason=None,
        digest="ab" * 32,
        body=b'{"seq":%d}' % seq,
        body_format="json",
        received_at=datetime(2026, 1, 5, 16, 0, tzinfo=CST),  # microsecond 0
        occurred_at=datetime(2026, 1, 5, 16, 5, 7, 123456, tzinfo=CST),
        clock_offset_ms=-1500,
        corrected_at=datetime(2026, 1, 5, 8, 5, 5, 623456, tzinfo=UTC),
        lat=None,
        lon=None,
        accuracy_m=None,
        fix_time=None,
        category=None,
        boot_id=None,
        elapsed_ms=None,
        monotonic_at=None,
    )
    row.update(overrides)
    assert list(row) == COLUMNS
    return row


def varied_rows(device_id: str, surveyor_id: int) -> list[dict]:
    """Nulls and non-nulls, floats, odd bytes, datetimes in +08:00 with and without µs."""
    return [
        log_row(device_id, 1, surveyor_id),
        log_row(
            device_id,
            2,
            surveyor_id,
            kind="photo",
            status="rejected",
            reason="unknown case",
            body=b"\x00\xff\x80 msgpack \x00",
            body_format="msgpack",
            received_at=datetime(2026, 1, 5, 23, 59, 59, 999999, tzinfo=CST),
            lat=31.230416,
            lon=121.473701,
            accuracy_m=0.1,
            fix_time=datetime(2026, 1, 6, 0, 0, tzinfo=CST),  # the UTC day before
            category="scene",
            boot_id="boot-1",
            elapsed_ms=2**40,
            monotonic_at=datetime(2026, 1, 5, 16, 4, 59, 1, tzinfo=CST),
        ),
        log_row(device_id, 3, surveyor_id, body=b"", lat=-0.0, lon=1e-300, accuracy_m=1e300),
    ]


async def insert_as_push_does(db, rows: list[dict]) -> list[str]:
    async with db.session() as session:
        conn = await session.connection()
        inserted = await insert_rows(
            conn, PACKETS, rows, skip_conflicts=True, returning="packet_id"
        )
        await session.commit()
    return inserted


async def stored(db, *where) -> list[Packet]:
    async with db.session(write=False) as session:
        return list(await session.scalars(select(Packet).where(*where).order_by(Packet.seq)))


def values(packet: Packet) -> dict:
    return {c: getattr(packet, c) for c in COLUMNS if c not in ("packet_id", "device_id")}


async def test_reads_back_as_core_insert_wrote_it(db):
    surveyor = await surveyor_with(db, "fast", "core")
    fast, core = varied_rows("fast", surveyor), varied_rows("core", surveyor)
    async with db.session() as session:
        assert await insert_rows(await session.connection(), PACKETS, fast) == []
        await session.execute(insert(session, Packet), core)
        await session.commit()
    by_fast = await stored(db, Packet.device_id == "fast")
    by_core = await stored(db, Packet.device_id == "core")
    assert [p.packet_id for p in by_fast] == [r["packet_id"] for r in fast]
    assert [values(p) for p in by_fast] == [values(p) for p in by_core]
    for packet, row in zip(by_fast, fast, strict=True):
        assert values(packet) == {k: row[k] for k in values(packet)}  # same instants, bytes
        for name in ("received_at", "occurred_at", "corrected_at"):
            assert getattr(packet, name).utcoffset() == timedelta(0)
    assert by_fast[1].received_at == datetime(2026, 1, 5, 15, 59, 59, 999999, tzinfo=UTC)
    assert by_fast[1].fix_time == datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    if db.is_sqlite:  # the stored text itself: SQL compares and orders it as text
        async with db.one_read() as conn:
            raw = await conn.exec_driver_sql(
                "SELECT device_id, received_at, occurred_at, corrected_at, fix_time,"
                " monotonic_at, typeof(body) FROM packets ORDER BY device_id, seq"
            )
            text = raw.fetchall()
        core_text, fast_text = [r[1:] for r in text[:3]], [r[1:] for r in text[3:]]
        assert fast_text == core_text
        assert fast_text[0][0] == "2026-01-05 08:00:00.000000"
        assert fast_text[1][0] == "2026-01-05 15:59:59.999999"


async def test_skipping_conflicts_returns_only_the_rows_inserted(db):
    surveyor = await surveyor_with(db, "tab")
    old = [log_row("tab", 1, surveyor), log_row("tab", 2, surveyor)]
    await insert_as_push_does(db, old)
    batch = [
        log_row("tab", 10, surveyor, packet_id=old[0]["packet_id"], kind="other"),  # same id
        log_row("tab", 3, surveyor),
        log_row("tab", 2, surveyor, kind="other"),  # same (device_id, seq)
        log_row("tab", 4, surveyor),
    ]
    inserted = await insert_as_push_does(db, batch)
    assert sorted(inserted) == sorted([batch[1]["packet_id"], batch[3]["packet_id"]])
    rows = await stored(db)
    assert [(p.seq, p.packet_id) for p in rows] == [
        (1, old[0]["packet_id"]),
        (2, old[1]["packet_id"]),
        (3, batch[1]["packet_id"]),
        (4, batch[3]["packet_id"]),
    ]
    assert [values(p) for p in rows[:2]] == [values(Packet(**r)) for r in old]  # unchanged


async def test_more_rows_than_one_statement_takes(db):
    surveyor = await surveyor_with(db, "tab")
    rows = [log_row("tab", seq, surveyor, elapsed_ms=seq * 7) for seq in range(1, 3001)]
    assert len(rows) * len(COLUMNS) > 32_000  # three statements
    inserted = await insert_as_push_does(db, rows)
    assert sorted(inserted) == sorted(r["packet_id"] for r in rows)
    async with db.session(write=False) as session:
        back = await session.execute(select(Packet.packet_id, Packet.seq, Packet.elapsed_ms))
    assert sorted(tuple(r) for r in back) == sorted(
        (r["packet_id"], r["seq"], r["elapsed_ms"]) for r in rows
    )


async def test_a_row_without_a_column_that_has_a_python_default_is_refused(db):
    surveyor = await surveyor_with(db)
    row = dict(
        device_id="tab",
        surveyor_id=surveyor,
        first_seen_at=T0,
        last_push_at=T0,
        acked_through=0,
        clock_offset_ms=0,
    )  # no max_seq: Device gives it default=0, which insert_rows does not apply
    async with db.session() as session:
        with pytest.raises(ValueError, match="max_seq"):
            await insert_rows(await session.connection(), Device.__table__, [row])
        await session.commit()
    assert await count(db, Device) == 0
