"""The board's surveyors: the open cases each holds, the cases given to them lately and the
cue to call in the backup group (备用组) when that is several in a short time; and each
case's ETA from its surveyor's last fixes while the arrival runs."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from cases.users import revoke_user
from server.app import create_app
from server.settings import Settings
from tests.factories import at, dispatched_case, make_user
from tests.tablets import SCENE, Tablet, iso

METRES_PER_DEGREE_LAT = 111_195.0


async def _board(client, tokens):
    response = await client.get("/v1/board", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    body = response.json()
    return {c["case_id"]: c for c in body["cases"]}, {s["name"]: s for s in body["surveyors"]}


def _north(metres: float, when) -> dict:
    """A GPS fix `metres` due north of the scene, taken at `when`."""
    lat = SCENE["lat"] + metres / METRES_PER_DEGREE_LAT
    return {"lat": lat, "lon": SCENE["lon"], "accuracy_m": 10, "fix_time": iso(when)}


async def test_open_cases_and_the_backup_cue(client, tokens, clock, db):
    first = await dispatched_case(client, tokens, surveyor="sv1")
    other = await dispatched_case(client, tokens, surveyor="sv2")
    clock.set(at(20))
    second = await dispatched_case(client, tokens, surveyor="sv1")
    _, surveyors = await _board(client, tokens)
    assert set(surveyors) == {"sv1", "sv2"}  # surveyors only, desk users are not listed
    sv1 = surveyors["sv1"]
    assert sv1["open_cases"] == 2 and set(sv1["open_case_ids"]) == {first["id"], second["id"]}
    assert (sv1["new_reports"], sv1["needs_backup"]) == (2, False)
    assert surveyors["sv2"]["open_case_ids"] == [other["id"]]

    clock.set(at(40))
    third = await dispatched_case(client, tokens, surveyor="sv1")  # a third within the hour
    _, surveyors = await _board(client, tokens)
    assert (surveyors["sv1"]["new_reports"], surveyors["sv1"]["needs_backup"]) == (3, True)
    assert set(surveyors["sv1"]["new_case_ids"]) == {first["id"], second["id"], third["id"]}
    assert surveyors["sv2"]["needs_backup"] is False

    closed = await client.post(
        f"/v1/cases/{second['id']}/close", json={"reason": "withdrawn"}, headers=tokens["disp"]
    )
    assert closed.status_code == 200, closed.text
    moved = await client.post(
        f"/v1/cases/{third['id']}/dispatch", json={"surveyor": "sv2"}, headers=tokens["disp"]
    )
    assert moved.status_code == 200, moved.text
    _, surveyors = await _board(client, tokens)
    assert surveyors["sv1"]["open_case_ids"] == [first["id"]]  # closed, handed on: not held
    assert surveyors["sv1"]["new_reports"] == 3  # still given to them within the hour
    assert surveyors["sv2"]["open_cases"] == 2 and surveyors["sv2"]["new_reports"] == 2

    clock.set(at(61))  # the first dispatch is over an hour old
    _, surveyors = await _board(client, tokens)
    assert (surveyors["sv1"]["new_reports"], surveyors["sv1"]["needs_backup"]) == (2, False)

    async with db.session() as session:
        await revoke_user(session, "sv1", clock.now())
        await session.commit()
    _, surveyors = await _board(client, tokens)
    assert "sv1" in surveyors  # revoked, but still holding an open case
    await make_user(db, "sv3", "surveyor", clock.now())
    async with db.session() as session:
        await revoke_user(session, "sv3", clock.now())
        await session.commit()
    _, surveyors = await _board(client, tokens)
    assert "sv3" not in surveyors


async def test_the_window_and_the_count_are_settings(tmp_path, database_url, tokens, clock):
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        database_url=database_url,
        load_window_seconds=600,
        load_warn_count=2,
    )
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        await dispatched_case(client, tokens, surveyor="sv1")
        clock.set(at(9))
        await dispatched_case(client, tokens, surveyor="sv1")
        _, surveyors = await _board(client, tokens)
        assert surveyors["sv1"]["needs_backup"] is True
        clock.set(at(11))
        _, surveyors = await _board(client, tokens)
        assert (surveyors["sv1"]["new_reports"], surveyors["sv1"]["needs_backup"]) == (1, False)


async def test_an_eta_from_the_last_two_fixes(client, tokens, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    waiting = await dispatched_case(client, tokens, surveyor="sv2")
    tablet = Tablet(tokens["sv1"])
    for minute, metres in ((5, 6000), (10, 4000)):  # 2 km in 5 min: 24 km/h
        clock.set(at(minute))
        tablet.record(case["id"], "position", at(minute), gps=_north(metres, at(minute)))
        await tablet.flush(client, clock)
    cases, surveyors = await _board(client, tokens)
    eta = cases[case["id"]]["eta"]
    assert eta["speed_from"] == "fixes" and eta["speed_kmh"] == pytest.approx(24, abs=0.2)
    assert eta["distance_m"] == pytest.approx(4000, abs=5)
    assert eta["seconds"] == pytest.approx(600, abs=5)  # 4 km at 24 km/h
    assert eta["at"].startswith("2026-01-05T08:2") and eta["fix_at"].startswith(
        "2026-01-05T08:10:00"
    )
    position = surveyors["sv1"]["position"]
    assert position["case_id"] == case["id"]
    assert position["lat"] == pytest.approx(SCENE["lat"] + 4000 / METRES_PER_DEGREE_LAT)
    assert cases[waiting["id"]]["eta"] is None  # sv2 has sent no fix
    assert surveyors["sv2"]["position"] is None

    clock.set(at(15))
    tablet.record(case["id"], "position", at(15), gps=_north(4000, at(15)))  # stopped
    await tablet.flush(client, clock)
    cases, _ = await _board(client, tokens)
    assert cases[case["id"]]["eta"]["speed_from"] == "default"
    assert cases[case["id"]]["eta"]["speed_kmh"] == 30  # the city's default speed

    clock.set(at(22))
    tablet.record(case["id"], "arrived", at(22), gps=True)
    await tablet.flush(client, clock)
    cases, _ = await _board(client, tokens)
    assert cases[case["id"]]["eta"] is None  # arrived
    assert case["id"] in cases  # still on the board (the survey goes on)


async def test_one_fix_gives_the_zones_default_speed(client, tokens, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1", zone="suburban")
    tablet = Tablet(tokens["sv1"])
    clock.set(at(5))
    tablet.record(case["id"], "position", at(5), gps=_north(10_000, at(5)))
    await tablet.flush(client, clock)
    clock.set(at(7))
    cases, _ = await _board(client, tokens)
    eta = cases[case["id"]]["eta"]
    assert (eta["speed_from"], eta["speed_kmh"]) == ("default", 50)
    # 10 km at 50 km/h: 12 min after the fix, 10 min from now.
    assert eta["seconds"] == pytest.approx(600, abs=5)


async def test_no_eta_for_a_surveyor_handed_the_case_for_the_estimate(client, tokens, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv2"])
    other = await dispatched_case(client, tokens, surveyor="sv2")
    clock.set(at(5))
    tablet.record(other["id"], "position", at(5), gps=_north(3000, at(5)))
    await tablet.flush(client, clock)
    cases, _ = await _board(client, tokens)
    assert cases[other["id"]]["eta"] is not None
    handed = await client.post(
        f"/v1/cases/{case['id']}/dispatch",
        json={"surveyor": "sv2", "purpose": "estimate"},
        headers=tokens["disp"],
    )
    assert handed.status_code == 200, handed.text
    cases, _ = await _board(client, tokens)
    assert "arrival" in {t["name"] for t in cases[case["id"]]["timings"]}  # sv1's, running
    assert cases[case["id"]]["eta"] is None  # sv2 is not on the way to the scene
