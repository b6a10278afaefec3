"""Migration 0013 chains the packets stored before it, each device's in order of receipt,
so `kancha verify` holds the old log to the same standard as the new."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from cases.models import Packet, User
from media.store import open_store
from server.db import Database, migrate_url
from sync.chain import GENESIS
from sync.models import Device, PacketChain
from sync.verify import verify_chains
from tests.conftest import PG_ADMIN_URL, _pg_admin, run_blocking

T = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SHA = "ab" * 32


def _packet(device: str, seq: int, minutes: int, body: bytes, fmt: str = "json") -> dict:
    at = T + timedelta(minutes=minutes)
    return dict(
        packet_id=f"{device}-{seq}", device_id=device, seq=seq, case_id="c1", surveyor_id=1,
        kind="note", status="accepted", digest="0" * 64, body=body, body_format=fmt,
        received_at=at, occurred_at=at, clock_offset_ms=0, corrected_at=at,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    if not PG_ADMIN_URL:
        pytest.skip("PostgreSQL tests need KANCHA_TEST_DATABASE_URL")
    name = f"chain_migration_{uuid.uuid4().hex[:10]}"
    run_blocking(lambda: asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"')))
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    run_blocking(lambda: asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


async def test_existing_packets_are_chained_by_the_migration(fresh_url, tmp_path):
    run_blocking(migrate_url, fresh_url, "0009")
    database = Database(fresh_url)
    photo_body = msgspec.msgpack.encode({"kind": "photo", "media": [SHA, SHA]})
    try:
        async with database.session() as session:
            await session.execute(
                insert(User.__table__).values(
                    id=1, name="sv", role="surveyor", token_hash="t", created_at=T
                )
            )
            for device in ("a", "b"):
                await session.execute(
                    insert(Device.__table__).values(
                        device_id=device, surveyor_id=1, first_seen_at=T, last_push_at=T,
                        acked_through=0, max_seq=0, clock_offset_ms=0,
                    )
                )  # fmt: skip
            rows = [
                _packet("a", 2, 1, b'{"seq": 2}'),
                _packet("a", 1, 5, photo_body, "msgpack"),  # later receipt, lower seq
                _packet("b", 1, 0, b'{"seq": 1}'),
                _packet("a", 3, 5, b'{"seq": 3}'),
            ]
            await session.execute(insert(Packet.__table__), rows)
            await session.commit()
        await database.dispose()
        run_blocking(migrate_url, fresh_url)
        database = Database(fresh_url)
        async with database.session(write=False) as session:
            chain = (
                await session.execute(
                    select(PacketChain.device_id, PacketChain.n, PacketChain.packet_id)
                    .add_columns(PacketChain.media, PacketChain.prev)
                    .order_by(PacketChain.device_id, PacketChain.n)
                )
            ).all()
            store = open_store(f"file://{tmp_path / 'media'}", tmp_path / "staging")
            verified = await verify_chains(session, store)
    finally:
        await database.dispose()
    assert [(d, n, p) for d, n, p, _, _ in chain] == [
        ("a", 1, "a-2"), ("a", 2, "a-1"), ("a", 3, "a-3"), ("b", 1, "b-1"),
    ]  # fmt: skip
    assert chain[1].media == SHA and chain[0].prev == GENESIS
    assert verified.broken == [] and verified.entries == 4 and verified.heads["a"][0] == 3
