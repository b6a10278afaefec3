"""Every route decodes its body strictly, as the push does: a string for a number (or any
other wrong type) is a 400 naming the field, and nothing is stored."""

from __future__ import annotations

from sqlalchemy import func, select

from cases.models import Case, Review
from tests.factories import case_body, dispatched_case


async def count(db, model) -> int:
    async with db.session(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_string_latitude_is_refused_on_case_creation(client, tokens, db):
    body = case_body(location={"lat": "31.23", "lon": 121.47})
    response = await client.post("/v1/cases", json=body, headers=tokens["disp"])
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("location.lat: Expected `float`")
    assert await count(db, Case) == 0


async def test_string_for_a_boolean_is_refused_on_case_creation(client, tokens, db):
    body = case_body(simple_procedure="true")
    response = await client.post("/v1/cases", json=body, headers=tokens["disp"])
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("simple_procedure: ")


async def test_number_for_a_surveyor_name_is_refused_on_dispatch(client, tokens, db):
    case = await dispatched_case(client, tokens)
    response = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": 17}, headers=tokens["disp"]
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("surveyor: Expected `str`")


async def test_number_for_a_reason_is_refused_on_review(client, tokens, db):
    case = await dispatched_case(client, tokens)
    response = await client.post(
        f"/v1/cases/{case['id']}/review",
        json={"decision": "returned", "reason": 12},
        headers=tokens["rev"],
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("reason: Expected `str | null`")
    assert await count(db, Review) == 0
