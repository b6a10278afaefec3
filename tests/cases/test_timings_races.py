"""Recalculation under real concurrency: pushes from two tablets of one case, a review and a
re-dispatch racing on a live server, on SQLite and PostgreSQL. Nothing fails, and the
stored timings are those a fresh recalculation from the log gives."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import httpx
from sqlalchemy import select

from cases.limits import DEFAULT_TIERS
from cases.models import CaseTiming
from cases.recalc import recalc_cases
from cases.timeline import DEFAULT_STALE_FIX
from tests.factories import new_id, packet, push_body
from tests.tablets import dispatched_live


def _three_tablets(url: str, tokens, case_id: str, kinds: list[str]) -> list[int]:
    devices = [new_id(), new_id(), new_id()]
    barrier = threading.Barrier(len(devices))
    statuses: list[int] = []

    def tablet(device: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            for seq, kind in enumerate(kinds, start=1):
                body = push_body(device, [packet(case_id, seq, kind)])
                statuses.append(
                    client.post("/v1/sync/push", json=body, headers=tokens["sv1"]).status_code
                )

    threads = [threading.Thread(target=tablet, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


async def test_racing_pushes_on_one_case_leave_consistent_timings(live_server, db):
    url, tokens = live_server
    case_id = await asyncio.to_thread(dispatched_live, url, tokens)
    kinds = ["accepted", "contacted", "departed", "position", "arrived", "note"]
    statuses = await asyncio.to_thread(_three_tablets, url, tokens, case_id, kinds)
    assert statuses == [200] * 3 * len(kinds)
    async with httpx.AsyncClient(base_url=url) as client:
        detail = (await client.get(f"/v1/cases/{case_id}", headers=tokens["disp"])).json()
    assert len(detail["events"]) == 3 * len(kinds)

    async with db.session(write=False) as session:
        stored = sorted(tuple(r) for r in await session.execute(select(CaseTiming.__table__)))
    async with db.session() as session:
        await recalc_cases(
            session,
            [case_id],
            tiers=DEFAULT_TIERS,
            irregular_window=timedelta(hours=24),
            stale_fix=DEFAULT_STALE_FIX,
        )
        fresh = sorted(tuple(r) for r in await session.execute(select(CaseTiming.__table__)))
        await session.rollback()
    assert stored == fresh
    assert {r[1] for r in stored} >= {"accept", "contact", "arrival"}
