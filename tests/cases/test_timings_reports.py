"""Board, SLA reports, configured limits and `kancha recalc`, through HTTP and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select

from cases.models import CaseProgress, CaseTiming, SurveyorPosition
from server.app import create_app
from server.settings import Settings
from tests.factories import T0, at, dispatched_case, open_case
from tests.live import clean_env, run_kancha
from tests.tablets import SCENE, Tablet, timings

DERIVED = (CaseTiming, CaseProgress, SurveyorPosition)


async def a_morning(client, tokens, clock) -> list[dict]:
    """Three cases: sv1 on time in the city, sv2 late in the city, sv2 on time in the suburbs."""
    clock.set(T0)
    cases = [
        await dispatched_case(client, tokens, surveyor="sv1", zone="city"),
        await dispatched_case(client, tokens, surveyor="sv2", zone="city"),
        await dispatched_case(client, tokens, surveyor="sv2", zone="suburban"),
    ]
    one, two = Tablet(tokens["sv1"]), Tablet(tokens["sv2"], skew=timedelta(minutes=-2))
    one.record(cases[0]["id"], "accepted", at(1))
    one.record(cases[0]["id"], "contacted", at(4))
    one.record(cases[0]["id"], "arrived", at(25), gps=True)
    two.record(cases[1]["id"], "accepted", at(5))  # late
    two.record(cases[1]["id"], "contacted", at(6))  # late
    two.record(cases[1]["id"], "arrived", at(45), gps=True)  # late
    two.record(cases[2]["id"], "accepted", at(2))
    clock.set(at(50))
    await one.flush(client, clock)
    await two.flush(client, clock)
    return cases


async def report(client, tokens, group_by, accept="application/json", **params):
    query = {"from": "2026-01-05T00:00:00+08:00", "to": "2026-01-06T00:00:00+08:00"}
    query.update(params, group_by=group_by)
    return await client.get(
        "/v1/reports/sla", params=query, headers={**tokens["disp"], "Accept": accept}
    )


async def test_sla_report_by_surveyor_and_zone(client, tokens, clock):
    await a_morning(client, tokens, clock)
    response = await report(client, tokens, "surveyor")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["group_by"]) == (
        "2026-01-04T16:00:00Z",
        "2026-01-05T16:00:00Z",
        "surveyor",
    )
    groups = {g["group"]: g for g in body["groups"]}
    assert groups["sv1"]["cases"] == 1 and groups["sv2"]["cases"] == 2
    tiers = groups["sv2"]["timings"]["arrival"].pop("tiers")
    assert (tiers["city"]["average_seconds"], tiers["city"]["limit_seconds"]) == (2700, 1800)
    assert tiers["city"]["average_within_limit"] is False
    assert (tiers["suburban"]["open"], tiers["suburban"]["average_within_limit"]) == (1, None)
    assert groups["sv1"]["timings"]["arrival"].pop("tiers")["city"]["decided"] == 1
    assert groups["sv1"]["timings"]["arrival"] == {
        "decided": 1,
        "within": 1,
        "share": 1.0,
        "open": 0,
        "average_seconds": 1500,
    }
    # sv2: one late arrival, and the suburban one still running inside its hour
    assert groups["sv2"]["timings"]["arrival"] == {
        "decided": 1,
        "within": 0,
        "share": 0.0,
        "open": 1,
        "average_seconds": 2700,
    }
    assert groups["sv2"]["timings"]["accept"]["share"] == 0.5
    assert groups["sv2"]["timings"]["contact"] | {"average_seconds": 0, "tiers": {}} == {
        "decided": 2,  # the suburban case's contact is overdue: it can only miss
        "within": 0,
        "share": 0.0,
        "open": 0,
        "average_seconds": 0,
        "tiers": {},
    }
    by_zone = {g["group"]: g for g in (await report(client, tokens, "zone")).json()["groups"]}
    assert (by_zone["city"]["cases"], by_zone["suburban"]["cases"]) == (2, 1)
    assert by_zone["city"]["timings"]["arrival"]["share"] == 0.5

    outside = await report(
        client,
        tokens,
        "zone",
        **{"from": "2026-01-06T00:00:00+08:00", "to": "2026-01-07T00:00:00+08:00"},
    )
    assert outside.json()["groups"] == []


async def test_sla_report_as_csv(client, tokens, clock):
    await a_morning(client, tokens, clock)
    response = await report(client, tokens, "surveyor", accept="text/csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["surveyor"] for r in rows] == ["sv1", "sv2"]
    assert rows[1]["cases"] == "2"
    assert (rows[1]["arrival_decided"], rows[1]["arrival_within"]) == ("1", "0")
    assert (rows[1]["arrival_share"], rows[1]["arrival_open"]) == ("0.0", "1")
    assert rows[0]["resubmit_share"] == ""  # nothing decided: no share


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-01-05T00:00:00"}, "from"),
        ({"to": "2026-01-01T00:00:00Z"}, "to"),
        ({"to": "2099-01-01T00:00:00Z"}, "to"),
        ({"from": "0001-01-01T00:00:00+14:00"}, "from"),
        ({"from": "2026-01-05T00:00:00\u0000Z"}, "from"),
    ],
)
async def test_bad_report_query_is_400_naming_it(client, tokens, params, field):
    response = await report(client, tokens, "zone", **params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}:")


async def test_reports_and_board_are_for_the_desk(client, tokens):
    assert (await report(client, tokens, "zone")).status_code == 200
    for path in ("/v1/board", "/v1/reports/sla?from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z"):
        assert (await client.get(path, headers=tokens["sv1"])).status_code == 403


async def test_board_shows_open_cases_most_urgent_first(client, tokens, clock):
    cases = await a_morning(client, tokens, clock)
    waiting = await open_case(client, tokens["disp"])
    board = (await client.get("/v1/board", headers=tokens["disp"])).json()
    assert board["now"] == "2026-01-05T08:50:00Z"
    order = [c["case_id"] for c in board["cases"]]
    # the suburban case's contact is 45 min overdue; the two city cases wait on estimates
    assert order[0] == cases[2]["id"] and order[-1] == waiting["id"]
    first = board["cases"][0]
    assert first["surveyor"] == "sv2" and first["status"] == "accepted"
    contact = next(x for x in first["timings"] if x["name"] == "contact")
    assert (contact["state"], contact["seconds_left"], contact["due_at"]) == (
        "overdue",
        300 - 3000,
        "2026-01-05T08:05:00Z",
    )
    assert first["position"] == {**SCENE, "at": "2026-01-05T08:45:00Z", "case_id": cases[1]["id"]}
    assert board["cases"][-1]["timings"] == [] and board["cases"][-1]["surveyor"] is None


async def test_configured_limits_apply_on_read(database_url, tmp_path, tokens, clock):
    settings = Settings(
        data_dir=str(tmp_path / "data"), database_url=database_url, limits={"arrival.city": 3}
    )
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        case = (await a_morning(client, tokens, clock))[0]
        got = await timings(client, case["id"], tokens["disp"])
        assert got["arrival"] == (1500, "missed", "gps", [])
        detail = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
        arrival = next(x for x in detail["timings"] if x["name"] == "arrival")
        assert (arrival["limit_seconds"], arrival["limit_key"]) == (3, "arrival.city")


async def snapshot(db) -> list[list[tuple]]:
    out = []
    async with db.session(write=False) as session:
        for model in DERIVED:
            rows = (await session.execute(select(model.__table__))).all()
            out.append(sorted(tuple(r) for r in rows))
    return out


async def test_kancha_recalc_rebuilds_the_same_rows_from_the_log(
    client, tokens, clock, db, database_url, tmp_path
):
    await a_morning(client, tokens, clock)
    returned = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"])
    tablet.record(returned["id"], "arrived", at(55), gps=True)
    tablet.record(returned["id"], "estimate_submitted", at(58), amount=3000)
    # the track driven to the next job: only last known positions follow from it
    tablet.record(returned["id"], "position", at(59), gps={"lat": 31.3, "lon": 121.5})
    tablet.record(returned["id"], "position", at(59.5), gps={"lat": 31.31, "lon": 121.51})
    clock.set(at(60))
    await tablet.flush(client, clock)
    await client.post(
        f"/v1/cases/{returned['id']}/review",
        json={"decision": "returned", "reason": "no invoice", "requested": ["invoice"]},
        headers=tokens["rev"],
    )
    before = await snapshot(db)
    assert all(before)
    async with db.session(write=False) as session:
        sv1 = await session.scalar(select(SurveyorPosition).where(SurveyorPosition.lat == 31.31))
    assert sv1 is not None and sv1.at == at(59.5)  # pushed as track, recorded without recalc
    async with db.session() as session:
        for model in DERIVED:
            await session.execute(delete(model))
        await session.commit()
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)
    done = run_kancha("recalc", "--batch", "2", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("recalculated 4 cases (11 events)")
    assert await snapshot(db) == before
