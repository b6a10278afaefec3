"""A process remembers the highest seq it saw settled per device and sends a push with a
seq above it straight to its group commit, without the replay read. Another process may
have settled more in the meantime: a re-send of that batch must still be answered as the
duplicates it is, through the write path, stored once."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from cases.models import Packet
from server.app import create_app
from tests.factories import count, dispatched_case, new_id, packet, push, push_body


async def test_a_resend_of_what_another_process_settled_is_duplicates(
    client, settings, clock, tokens, db
):
    case = await dispatched_case(client, tokens)
    device = new_id()
    first = push_body(device, [packet(case["id"], seq) for seq in (1, 2, 3)])
    second = push_body(device, [packet(case["id"], seq) for seq in (4, 5, 6)])
    sv1 = tokens["sv1"]

    answer = await push(client, sv1, first)  # this process now knows seq 3 settled
    assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * 3

    async with AsyncTestClient(app=create_app(settings, clock=clock)) as other:
        answer = await push(other, sv1, second)  # the other process settles 4..6
        assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * 3

    # Seen from the first process, 6 is above anything it saw settled.
    answer = await push(client, sv1, second)
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["duplicate"] * 3
    assert answer.json()["acked_through"] == 6
    answer = await push(client, sv1, first)
    assert [r["status"] for r in answer.json()["results"]] == ["duplicate"] * 3
    assert answer.json()["acked_through"] == 6
    assert await count(db, Packet) == 6
