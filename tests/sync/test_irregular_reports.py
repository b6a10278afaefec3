"""Irregular reports (不规则报案): a surveyor told of an accident by a colleague goes before
the call centre's dispatch reaches the system. Their packets are held, not rejected; when
the case is dispatched to them within the window their events join the timeline, flagged
as irregular rather than as a fraud signal, and end the timings they answer."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings, SettingsError
from tests.factories import new_id, open_case, packet, push, push_body


async def _dispatch(client, tokens, case_id, surveyor):
    response = await client.post(
        f"/v1/cases/{case_id}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _case(client, tokens, case_id):
    response = await client.get(f"/v1/cases/{case_id}", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    return response.json()


async def test_held_packets_join_the_timeline_when_the_dispatch_follows(client, tokens, clock):
    case = await open_case(client, tokens["disp"])
    device = new_id()
    early = [
        packet(case["id"], 1, "accepted", occurred_at="2026-01-05T16:01:00+08:00"),
        packet(case["id"], 2, "arrived", occurred_at="2026-01-05T16:09:00+08:00"),
    ]
    clock.advance(minutes=10)
    out = (await push(client, tokens["sv1"], push_body(device, early))).json()
    assert [r["status"] for r in out["results"]] == ["held", "held"]
    assert out["acked_through"] == 2  # settled: the tablet may drop them
    assert (await _case(client, tokens, case["id"]))["events"] == []

    clock.advance(minutes=5)
    await _dispatch(client, tokens, case["id"], "sv1")
    body = await _case(client, tokens, case["id"])
    events = {e["kind"]: e for e in body["events"]}
    assert set(events) == {"accepted", "arrived"}
    for event in events.values():
        assert "before_dispatch_irregular" in event["flags"]
        assert "before_dispatch" not in event["flags"]
        assert "not_dispatched_surveyor" not in event["flags"]
        assert event["current"] is True
    timings = {t["name"]: t for t in body["timings"]}
    assert timings["arrival"]["state"] == "met"
    assert timings["accept"]["state"] == "met"


async def test_held_packets_stay_out_when_the_case_goes_to_someone_else(client, tokens, clock):
    case = await open_case(client, tokens["disp"])
    out = (
        await push(client, tokens["sv1"], push_body(new_id(), [packet(case["id"], 1, "arrived")]))
    ).json()
    assert out["results"][0]["status"] == "held"
    await _dispatch(client, tokens, case["id"], "sv2")
    body = await _case(client, tokens, case["id"])
    assert body["events"] == []
    assert {t["name"]: t["state"] for t in body["timings"]}["arrival"] == "running"


async def test_held_packets_stay_out_when_the_dispatch_comes_too_late(client, tokens, clock):
    case = await open_case(client, tokens["disp"])
    out = (
        await push(client, tokens["sv1"], push_body(new_id(), [packet(case["id"], 1, "arrived")]))
    ).json()
    assert out["results"][0]["status"] == "held"
    clock.advance(hours=25)  # past the 24 h window: no dispatch followed the report
    await _dispatch(client, tokens, case["id"], "sv1")
    assert (await _case(client, tokens, case["id"]))["events"] == []


@pytest.fixture
async def hour_window(settings, clock):
    """A client of an app whose irregular window is 1 h (KANCHA_IRREGULAR_WINDOW_SECONDS)."""
    app = create_app(msgspec.structs.replace(settings, irregular_window_seconds=3600), clock=clock)
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_a_one_hour_window_keeps_out_a_dispatch_two_hours_late(hour_window, tokens, clock):
    client = hour_window
    case = await open_case(client, tokens["disp"])
    out = (
        await push(client, tokens["sv1"], push_body(new_id(), [packet(case["id"], 1, "arrived")]))
    ).json()
    assert out["results"][0]["status"] == "held"
    clock.advance(hours=2)  # inside the default 24 h, outside this deployment's 1 h
    await _dispatch(client, tokens, case["id"], "sv1")
    body = await _case(client, tokens, case["id"])
    assert body["events"] == []
    assert {t["name"]: t["state"] for t in body["timings"]}["arrival"] == "running"


async def test_a_one_hour_window_takes_a_dispatch_within_it(hour_window, tokens, clock):
    client = hour_window
    case = await open_case(client, tokens["disp"])
    device = new_id()
    await push(client, tokens["sv1"], push_body(device, [packet(case["id"], 1, "arrived")]))
    clock.advance(minutes=50)
    await _dispatch(client, tokens, case["id"], "sv1")
    (event,) = (await _case(client, tokens, case["id"]))["events"]
    assert "before_dispatch_irregular" in event["flags"]


def test_the_window_is_read_from_the_environment_or_refused():
    env = {"KANCHA_IRREGULAR_WINDOW_SECONDS": "3600"}
    assert Settings.from_env(env).intake_rules.irregular_window == timedelta(hours=1)
    assert Settings().intake_rules.irregular_window == timedelta(hours=24)
    with pytest.raises(SettingsError, match="KANCHA_IRREGULAR_WINDOW_SECONDS"):
        Settings.from_env({"KANCHA_IRREGULAR_WINDOW_SECONDS": "a day"})
    with pytest.raises(SettingsError, match="KANCHA_IRREGULAR_WINDOW_SECONDS: must not be"):
        create_app(Settings.from_env({"KANCHA_IRREGULAR_WINDOW_SECONDS": "-1"}))
