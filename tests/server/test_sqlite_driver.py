"""The few-hop SQLite driver (server/sqlite_driver.py) returns what aiosqlite returned:
every row, in order, whether fetched all at once, streamed in pieces or one by one."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server import sqlite_driver
from server.db import make_engine

ROWS = 2 * sqlite_driver.PREFETCH + 17  # more than one prefetch, not a multiple of it


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)"))
        await conn.execute(
            text("INSERT INTO t (n, s) VALUES (:n, :s)"),
            [{"n": n, "s": f"row {n}"} for n in range(ROWS)],
        )
    yield engine
    await engine.dispose()


async def test_connections_are_the_few_hop_driver(engine):
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_driver.Connection)


async def test_all_rows_beyond_the_prefetch_in_order(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT n, s FROM t ORDER BY n"))).all()
    assert [n for n, _ in rows] == list(range(ROWS))
    assert rows[-1].s == f"row {ROWS - 1}"


async def test_streamed_in_pieces_and_one_by_one(engine):
    async with engine.connect() as conn:
        streamed = await conn.stream(text("SELECT n FROM t ORDER BY n"))
        pieces = [[n for (n,) in p] async for p in streamed.partitions(300)]
        assert [n for p in pieces for n in p] == list(range(ROWS))
        assert {len(p) for p in pieces[:-1]} == {300}
        result = await conn.execute(text("SELECT n FROM t WHERE n < 3 ORDER BY n"))
        assert [result.fetchone()[0] for _ in range(3)] == [0, 1, 2]
        assert result.fetchone() is None
        assert (await conn.execute(text("SELECT n FROM t WHERE n < 0"))).all() == []


async def test_failed_statement_rolls_back_only_its_transaction(engine):
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (n, s) VALUES (:n, 'new')"), {"n": ROWS})
            await conn.execute(text("INSERT INTO t (n, s) VALUES (0, 'clash')"))
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
        first = (await conn.execute(text("SELECT s FROM t WHERE n = 0"))).scalar_one()
    assert (count, first) == (ROWS, "row 0")
