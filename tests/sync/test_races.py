"""Real races and real crashes against a live server process, on SQLite and PostgreSQL.

Two connections push the same batch at the same instant (a retry racing the original, or
two app processes flushing one queue); then a server is killed with SIGKILL mid-push.
"""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import func, select

from cases.models import Packet
from tests.factories import new_id, packet, push_body
from tests.tablets import dispatched_live


def _race(url: str, headers: dict, body: dict, racers: int = 2) -> list[dict]:
    barrier = threading.Barrier(racers)
    out: list[dict] = [{}] * racers

    def run(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:  # its own connection
            barrier.wait()
            response = client.post("/v1/sync/push", json=body, headers=headers)
            assert response.status_code == 200, response.text
            out[i] = response.json()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _resend(url: str, headers: dict, device: str, batches: list[list[dict]]) -> dict:
    with httpx.Client(base_url=url, timeout=60) as client:
        for batch in batches:
            r = client.post("/v1/sync/push", json=push_body(device, batch), headers=headers)
            assert r.status_code == 200
            assert {x["status"] for x in r.json()["results"]} <= {"accepted", "duplicate"}
    return r.json()


async def _stored(db) -> dict[str, int]:
    async with db.session(write=False) as session:
        rows = await session.execute(
            select(Packet.packet_id, func.count()).group_by(Packet.packet_id)
        )
        return dict(rows.all())


async def test_identical_pushes_racing_store_each_packet_once(live_server, db):
    url, tokens = live_server
    case_id = dispatched_live(url, tokens)
    device = new_id()
    sent: list[str] = []
    for round_no in range(12):
        batch = [packet(case_id, round_no * 20 + i + 1) for i in range(20)]
        sent += [p["packet_id"] for p in batch]
        responses = _race(url, tokens["sv1"], push_body(device, batch), racers=3)
        for i in range(len(batch)):
            statuses = sorted(r["results"][i]["status"] for r in responses)
            assert statuses == ["accepted", "duplicate", "duplicate"], (round_no, i, statuses)
        assert {r["acked_through"] for r in responses} == {(round_no + 1) * 20}
    stored = await _stored(db)
    assert sorted(stored) == sorted(sent)
    assert set(stored.values()) == {1}


async def test_a_kill_9_mid_push_loses_nothing_acknowledged(server_process, tokens, db):
    url = server_process.url
    case_id = dispatched_live(url, tokens)
    device = new_id()
    acknowledged: list[str] = []
    batches = [[packet(case_id, b * 50 + i + 1) for i in range(50)] for b in range(40)]
    stop = threading.Event()
    in_flight: list[list[dict]] = []

    def flush() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for batch in batches:
                if stop.is_set():
                    return
                in_flight.append(batch)
                try:
                    r = client.post(
                        "/v1/sync/push", json=push_body(device, batch), headers=tokens["sv1"]
                    )
                except httpx.TransportError:
                    return  # the server died under this push
                acknowledged.extend(
                    x["packet_id"] for x in r.json()["results"] if x["status"] == "accepted"
                )

    worker = threading.Thread(target=flush)
    worker.start()
    while len(acknowledged) < 200 and worker.is_alive():
        threading.Event().wait(0.01)
    server_process.kill()
    stop.set()
    worker.join()
    assert acknowledged, "the server acknowledged nothing before it was killed"

    stored = await _stored(db)
    assert set(acknowledged) <= set(stored)  # nothing acknowledged is lost
    assert set(stored.values()) <= {1}

    server_process.start()  # the tablet resends its whole queue after the restart
    last = _resend(url, tokens["sv1"], device, batches)
    assert last["acked_through"] == 2000 and last["missing"] == []
    stored = await _stored(db)
    assert len(stored) == 2000 and set(stored.values()) == {1}


async def test_pushes_crossing_two_cases_never_deadlock(live_server, db):
    """Two tablets of one surveyor, each sending track on one case and a milestone on the
    other, racing: every push must be answered (a deadlock would be a 500)."""
    url, tokens = live_server
    first, second = dispatched_live(url, tokens), dispatched_live(url, tokens)
    devices = [new_id(), new_id()]
    for round_no in range(15):
        seq = round_no * 2 + 1
        bodies = [
            push_body(
                devices[0],
                [
                    packet(first, seq, "position", gps={"lat": 31.2, "lon": 121.4}),
                    packet(second, seq + 1, "note"),
                ],
            ),
            push_body(
                devices[1],
                [
                    packet(second, seq, "position", gps={"lat": 31.2, "lon": 121.4}),
                    packet(first, seq + 1, "note"),
                ],
            ),
        ]
        _race_each(url, tokens["sv1"], bodies)
    stored = await _stored(db)
    assert len(stored) == 60 and set(stored.values()) == {1}


def _race_each(url: str, headers: dict, bodies: list[dict]) -> None:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def run(body: dict) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            statuses.append(client.post("/v1/sync/push", json=body, headers=headers).status_code)

    threads = [threading.Thread(target=run, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(bodies)
