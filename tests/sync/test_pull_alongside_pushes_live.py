"""On a fresh database, the first pulls (which make the cursor key) run alongside pushes
that keep committing: every one is answered, none with a 5xx (on SQLite a pull that wrote
from its read transaction got "database is locked")."""

from __future__ import annotations

import threading

import httpx

from tests.factories import case_body, new_id, packet, push_body

PUSHERS, PULLERS, ROUNDS = 4, 6, 15


def test_first_pulls_alongside_pushes_get_no_server_error(live_server):
    url, tokens = live_server
    with httpx.Client(base_url=url, timeout=60) as client:
        case = client.post("/v1/cases", json=case_body(), headers=tokens["disp"]).json()
        dispatched = client.post(
            f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv1"}, headers=tokens["disp"]
        )
        assert dispatched.status_code == 200, dispatched.text
    statuses: list[tuple[str, int, str]] = []
    start = threading.Barrier(PUSHERS + PULLERS)

    def pusher() -> None:
        device = new_id()
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            for seq in range(1, ROUNDS + 1):
                body = push_body(device, [packet(case["id"], seq, "position")])
                r = client.post("/v1/sync/push", json=body, headers=tokens["sv1"])
                statuses.append(("push", r.status_code, r.text))

    def puller(who: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            for _ in range(3):
                r = client.get("/v1/sync/pull", headers=tokens[who])
                statuses.append(("pull", r.status_code, r.text))

    threads = [threading.Thread(target=pusher) for _ in range(PUSHERS)]
    threads += [threading.Thread(target=puller, args=(f"sv{1 + i % 2}",)) for i in range(PULLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [s for s in statuses if s[1] != 200]
    assert not failed, failed[:3]
    assert len(statuses) == PUSHERS * ROUNDS + PULLERS * 3
