"""A packet rejected as a conflict settles its own seq: acked_through passes it, a re-send
gets the same rejection, and what was stored first stays as it was."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from cases.models import Packet
from tests.factories import dispatched_case, new_id, packet, push, push_body


async def log(db) -> list[tuple[str, str, int, str, bytes]]:
    async with db.session(write=False) as session:
        rows = await session.execute(
            select(Packet.packet_id, Packet.device_id, Packet.seq, Packet.status, Packet.body)
        )
        return sorted(rows.all())


async def conflict_is_settled(client, tokens, db, device, batch, position):
    """Push `batch`, whose second packet conflicts: it is rejected, and settled."""
    before = await log(db)
    out = (await push(client, tokens["sv1"], push_body(device, batch))).json()
    assert out["results"][1] == {
        "packet_id": batch[1]["packet_id"],
        "status": "rejected",
        "reason": "conflict",
    }
    assert (out["acked_through"], out["missing"]) == (position, [])
    again = (await push(client, tokens["sv1"], push_body(device, batch[1:2]))).json()
    assert again["results"] == [out["results"][1]]
    assert again["acked_through"] == position
    stored = await log(db)
    assert set(before) <= set(stored)  # nothing stored first changed
    listed = await client.get(f"/v1/devices/{device}/rejections", headers=tokens["admin"])
    assert [(r["seq"], r["reason"]) for r in listed.json()].count(
        (batch[1]["seq"], "conflict")
    ) == 1


async def test_packet_id_held_by_another_device(client, tokens, db):
    case = await dispatched_case(client, tokens)
    theirs = packet(case["id"], 1)
    await push(client, tokens["sv1"], push_body(new_id(), [theirs]))
    device = new_id()
    await push(client, tokens["sv1"], push_body(device, [packet(case["id"], 1)]))
    taken = {**theirs, "seq": 2}
    await conflict_is_settled(
        client, tokens, db, device, [packet(case["id"], 3), taken, packet(case["id"], 4)], 4
    )


async def test_packet_id_held_by_the_same_device_under_another_seq(client, tokens, db):
    case = await dispatched_case(client, tokens)
    device = new_id()
    first = packet(case["id"], 1)
    await push(client, tokens["sv1"], push_body(device, [first]))
    moved = {**first, "seq": 3}
    await conflict_is_settled(
        client, tokens, db, device, [packet(case["id"], 2), moved, packet(case["id"], 4)], 4
    )
    async with db.session(write=False) as session:
        row = await session.scalar(select(Packet).where(Packet.packet_id == first["packet_id"]))
    assert row.seq == 1 and msgspec.json.decode(row.body) == first


async def test_a_later_packet_under_a_seq_settled_by_a_conflict_is_a_conflict(client, tokens, db):
    case = await dispatched_case(client, tokens)
    device = new_id()
    first = packet(case["id"], 1)
    await push(client, tokens["sv1"], push_body(device, [first, {**first, "seq": 2}]))
    out = (await push(client, tokens["sv1"], push_body(device, [packet(case["id"], 2)]))).json()
    assert out["results"][0]["reason"] == "conflict" and out["acked_through"] == 2
