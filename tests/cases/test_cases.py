"""Opening cases and dispatching surveyors through HTTP, checked in the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from cases.models import Case, Dispatch
from tests.factories import case_body, dispatched_case, open_case


async def count(db, model) -> int:
    async with db.session(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_open_case_returns_it_with_id(client, tokens, db):
    body = case_body(case_no="RPT-1", zone="suburban", plate=None)
    response = await client.post("/v1/cases", json=body, headers=tokens["disp"])
    assert response.status_code == 201
    case = response.json()
    assert case["id"]
    assert case["case_no"] == "RPT-1"
    assert case["zone"] == "suburban"
    assert case["status"] == "reported"
    assert case["reported_at"] == "2026-01-05T07:55:00Z"  # stored and shown in UTC
    assert case["location"] == body["location"]
    assert case["surveyor"] is None and case["dispatches"] == []
    read = await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])
    assert read.json() == case
    assert await count(db, Case) == 1


async def test_same_case_no_returns_existing_case(client, tokens, db):
    first = await client.post("/v1/cases", json=case_body(case_no="X-9"), headers=tokens["disp"])
    again = await client.post(
        "/v1/cases", json=case_body(case_no="X-9", address="elsewhere"), headers=tokens["disp"]
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await count(db, Case) == 1


async def test_racing_posts_of_one_report_make_one_case(client, tokens, db):
    body = case_body(case_no="RACE-1")
    responses = await asyncio.gather(
        *(client.post("/v1/cases", json=body, headers=tokens["disp"]) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count(db, Case) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": {"lat": 90.5, "lon": 121.0}}, "location.lat"),
        ({"location": {"lat": -91, "lon": 121.0}}, "location.lat"),
        ({"location": {"lat": 31.0, "lon": 180.1}}, "location.lon"),
        ({"location": {"lat": "north", "lon": 121.0}}, "location.lat"),
        ({"zone": "moon"}, "zone"),
        ({"reported_at": "yesterday"}, "reported_at"),
        ({"reported_at": "2026-01-05T15:55:00"}, "reported_at"),
        ({"reported_at": "0001-01-01T00:00:00Z"}, "reported_at"),
        ({"case_no": ""}, "case_no"),
        ({"simple_procedure": "maybe"}, "simple_procedure"),
    ],
)
async def test_bad_case_is_400_naming_the_field(client, tokens, db, change, field):
    response = await client.post("/v1/cases", json=case_body(**change), headers=tokens["disp"])
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}:")
    assert await count(db, Case) == 0


@pytest.mark.parametrize("missing", ["case_no", "reported_at", "location", "address", "zone"])
async def test_missing_field_is_400_naming_it(client, tokens, db, missing):
    body = case_body()
    del body[missing]
    response = await client.post("/v1/cases", json=body, headers=tokens["disp"])
    assert response.status_code == 400
    assert f"`{missing}`" in response.json()["detail"]
    assert await count(db, Case) == 0


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"[]", b"null", b"\xff\xfe", b"[" * 100_000, b'{"a":' * 50_000]
)
async def test_malformed_body_is_400(client, tokens, raw):
    headers = {**tokens["disp"], "Content-Type": "application/json"}
    response = await client.post("/v1/cases", content=raw, headers=headers)
    assert response.status_code == 400


async def test_dispatch_is_recorded_with_the_servers_time(client, tokens, db, clock):
    case = await open_case(client, tokens["disp"])
    clock.set(datetime(2026, 1, 5, 8, 1, 30, tzinfo=UTC))
    response = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv1"}, headers=tokens["disp"]
    )
    assert response.status_code == 200
    body = response.json()
    assert body["surveyor"] == "sv1"
    assert body["status"] == "dispatched"
    assert body["dispatches"] == [
        {"surveyor": "sv1", "dispatched_at": "2026-01-05T08:01:30Z", "purpose": "scene"}
    ]
    async with db.session(write=False) as session:
        row = await session.scalar(select(Dispatch))
    assert row.dispatched_at == datetime(2026, 1, 5, 8, 1, 30, tzinfo=UTC)


async def test_redispatch_records_each_dispatch(client, tokens, db, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    url = f"/v1/cases/{case['id']}/dispatch"
    clock.advance(minutes=20)
    again = await client.post(url, json={"surveyor": "sv2"}, headers=tokens["disp"])
    assert again.status_code == 200
    history = again.json()["dispatches"]
    assert [d["surveyor"] for d in history] == ["sv1", "sv2"]
    assert history[1]["dispatched_at"] == "2026-01-05T08:20:00Z"
    assert again.json()["surveyor"] == "sv2"
    # the first surveyor no longer sees it; the second does
    assert (await client.get(f"/v1/cases/{case['id']}", headers=tokens["sv1"])).status_code == 403
    assert (await client.get(f"/v1/cases/{case['id']}", headers=tokens["sv2"])).status_code == 200
    assert await count(db, Dispatch) == 2


async def test_repeated_dispatch_to_the_same_surveyor_changes_nothing(client, tokens, db, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    clock.advance(minutes=2)
    again = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv1"}, headers=tokens["disp"]
    )
    assert again.status_code == 200
    assert again.json()["dispatches"] == case["dispatches"]
    assert await count(db, Dispatch) == 1


@pytest.mark.parametrize(("surveyor", "status"), [("nobody", 400), ("rev", 400), ("", 400)])
async def test_dispatch_to_someone_not_a_surveyor_is_refused(client, tokens, db, surveyor, status):
    case = await open_case(client, tokens["disp"])
    response = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
    )
    assert response.status_code == status
    assert response.json()["detail"].startswith("surveyor:")
    assert await count(db, Dispatch) == 0


async def test_dispatch_of_unknown_case_is_404(client, tokens):
    response = await client.post(
        "/v1/cases/no-such-case/dispatch", json={"surveyor": "sv1"}, headers=tokens["disp"]
    )
    assert response.status_code == 404
    assert (await client.get("/v1/cases/no-such-case", headers=tokens["disp"])).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"case_no": "\x00"}, "case_no"),
        ({"address": "a\x00b"}, "address"),
        ({"plate": "\x00"}, "plate"),
    ],
)
async def test_nul_in_text_is_400_on_every_backend(client, tokens, db, change, field):
    response = await client.post("/v1/cases", json=case_body(**change), headers=tokens["disp"])
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}:")
    assert await count(db, Case) == 0


async def test_nul_in_surveyor_or_path_is_refused_not_a_crash(client, tokens):
    case = await open_case(client, tokens["disp"])
    bad = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "\x00"}, headers=tokens["disp"]
    )
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("surveyor:")
    assert (await client.get("/v1/cases/%00", headers=tokens["disp"])).status_code == 404
