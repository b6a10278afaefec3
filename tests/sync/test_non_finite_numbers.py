"""NaN and ±Infinity (which MessagePack carries) are refused wherever a number arrives,
with a 400 naming the field, and nothing of the push is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cases.models import Packet
from tests.factories import dispatched_case, new_id, packet, push, push_body

NAN, INF = float("nan"), float("inf")


def estimate(case_id, **data):
    return packet(case_id, 2, "estimate_submitted", data={"amount": 1500, "items": [], **data})


CASES = {
    "amount NaN": (lambda c: estimate(c, amount=NAN), "packets[1].data.amount"),
    "amount +Inf": (lambda c: estimate(c, amount=INF), "packets[1].data.amount"),
    "amount -Inf": (lambda c: estimate(c, amount=-INF), "packets[1].data.amount"),
    "item price": (
        lambda c: estimate(c, items=[{"name": "bumper", "yuan": INF}]),
        "packets[1].data.items[0].yuan",
    ),
    "data value": (lambda c: packet(c, 2, data={"note": {"v": NAN}}), "packets[1].data.note.v"),
    "gps accuracy": (
        lambda c: packet(c, 2, "arrived", gps={"lat": 31.2, "lon": 121.4, "accuracy_m": INF}),
        "packets[1].gps.accuracy_m",
    ),
    "gps lat": (
        lambda c: packet(c, 2, "arrived", gps={"lat": NAN, "lon": 121.4}),
        "packets[1].gps.lat",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_non_finite_number_in_a_push_is_400_naming_the_field(client, tokens, db, name):
    make, field = CASES[name]
    case = await dispatched_case(client, tokens)
    body = push_body(new_id(), [packet(case["id"], 1), make(case["id"])])
    response = await push(client, tokens["sv1"], body, msgpack=True)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}: "), response.text
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Packet)) == 0


async def test_number_too_large_for_a_float_is_400_on_case_creation(client, tokens):
    body = (
        b'{"case_no": "NF-1", "reported_at": "2026-01-05T15:55:00+08:00", '
        b'"location": {"lat": 31.2, "lon": 1e400}, "address": "x", "zone": "city"}'
    )
    headers = {**tokens["disp"], "Content-Type": "application/json"}
    response = await client.post("/v1/cases", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert "location.lon" in response.json()["detail"]
