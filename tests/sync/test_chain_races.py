"""Racing pushes of one device (a retry racing the original, two app processes) still give
one gapless chain, against a live server on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from sync.chain import GENESIS
from sync.models import PacketChain
from tests.factories import new_id, packet, push_body
from tests.live import clean_env, run_kancha
from tests.sync.test_races import _race
from tests.tablets import dispatched_live


async def test_racing_pushes_give_one_gapless_chain(live_server, db, database_url, tmp_path):
    url, tokens = live_server
    case_id = dispatched_live(url, tokens)
    device = new_id()
    sent: list[str] = []
    for round_no in range(6):
        batch = [packet(case_id, round_no * 10 + i + 1) for i in range(10)]
        sent += [p["packet_id"] for p in batch]
        _race(url, tokens["sv1"], push_body(device, batch), racers=3)
    async with db.session(write=False) as session:
        chain = list(
            await session.scalars(
                select(PacketChain).where(PacketChain.device_id == device).order_by(PacketChain.n)
            )
        )
    assert [e.n for e in chain] == list(range(1, 61))
    assert [e.packet_id for e in chain] == sent  # each once, in settlement order
    assert [e.prev for e in chain] == [GENESIS] + [e.digest for e in chain[:-1]]
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)
    done = run_kancha("verify", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "60 chain entries of 1 devices" in done.stdout
