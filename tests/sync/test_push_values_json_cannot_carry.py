"""A MessagePack push whose packet `data` holds a value JSON has no form for (bin, ext, a
timestamp, a non-string key) settles that packet as rejected, naming the field: the push
is answered, the other packets are taken and the tablet's queue moves on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from msgspec.msgpack import Ext
from sqlalchemy import select

from cases.models import Packet
from tests.factories import dispatched_case, new_id, packet, push, push_body

VALUES = {
    "ext": (Ext(5, b"\x01\x02"), "data.x"),
    "bin": (b"\x00\xff", "data.x"),
    "timestamp": (datetime(2026, 1, 5, 8, 0, tzinfo=UTC), "data.x"),
    "int key": ({1: "a"}, "data.x"),
    "nested ext": ({"y": [1, Ext(-7, b"")]}, "data.x.y[1]"),
}


@pytest.mark.parametrize("name", list(VALUES))
async def test_value_json_cannot_carry_settles_the_packet_as_rejected(client, tokens, db, name):
    value, field = VALUES[name]
    case = await dispatched_case(client, tokens)
    device = new_id()
    packets = [
        packet(case["id"], 1),
        packet(case["id"], 2, data={"x": value}),
        packet(case["id"], 3),
    ]
    response = await push(client, tokens["sv1"], push_body(device, packets), msgpack=True)
    assert response.status_code == 200, response.text
    out = response.json()
    statuses = [r["status"] for r in out["results"]]
    assert statuses == ["accepted", "rejected", "accepted"]
    assert out["results"][1]["reason"].startswith(f"{field}: ")
    assert (out["acked_through"], out["missing"]) == (3, [])

    again = await push(client, tokens["sv1"], push_body(device, packets[1:2]), msgpack=True)
    assert again.status_code == 200, again.text
    assert again.json()["results"] == [out["results"][1]]  # the same rejection
    assert again.json()["acked_through"] == 3
    async with db.session(write=False) as session:
        rows = (await session.execute(select(Packet.seq, Packet.status))).all()
    assert sorted(rows) == [(1, "accepted"), (2, "rejected"), (3, "accepted")]

    listed = await client.get(f"/v1/devices/{device}/rejections", headers=tokens["admin"])
    assert listed.status_code == 200, listed.text
    assert field in str(listed.json())
