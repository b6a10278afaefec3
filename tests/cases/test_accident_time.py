"""The accident time (`occurred_at`) beside the report time: a report long after the accident
is 延时报案, the seeds' main fraud check (`late_report`, KANCHA_LATE_REPORT_SECONDS, 48 h by
default). Delegated-in cases (外地委托 received) say who delegated them."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings, SettingsError
from tests.factories import case_body, open_case

REPORTED = "2026-01-05T15:55:00+08:00"  # case_body's reported_at


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _read(client, tokens, case_id):
    response = await client.get(f"/v1/cases/{case_id}", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    return response.json()


async def _board_row(client, tokens, case_id):
    response = await client.get("/v1/board", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    return next(c for c in response.json()["cases"] if c["case_id"] == case_id)


async def test_the_accident_time_is_stored_and_read_back(client, tokens):
    opened = await open_case(client, tokens["disp"], occurred_at="2026-01-05T15:20:00+08:00")
    assert when(opened["occurred_at"]) == when("2026-01-05T07:20:00Z")
    read = await _read(client, tokens, opened["id"])
    assert when(read["occurred_at"]) == when("2026-01-05T15:20:00+08:00")
    assert read["late_report"] is False  # 35 min before the report
    assert (await _board_row(client, tokens, opened["id"]))["late_report"] is False


async def test_a_case_without_accident_time_is_not_a_late_report(client, tokens):
    opened = await open_case(client, tokens["disp"])
    assert opened["occurred_at"] is None and opened["late_report"] is False


async def test_a_report_three_days_after_the_accident_is_late(client, tokens):
    opened = await open_case(client, tokens["disp"], occurred_at="2026-01-02T15:00:00+08:00")
    assert opened["late_report"] is True
    assert (await _read(client, tokens, opened["id"]))["late_report"] is True
    row = await _board_row(client, tokens, opened["id"])
    assert row["late_report"] is True
    assert when(row["occurred_at"]) == when("2026-01-02T07:00:00Z")


async def test_exactly_the_threshold_is_not_late(client, tokens):
    opened = await open_case(client, tokens["disp"], occurred_at="2026-01-03T15:55:00+08:00")
    assert opened["late_report"] is False  # 48 h to the second: late only beyond it


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-01-05T15:56:00+08:00",  # a minute after the report
        "2026-01-05T07:56:00Z",  # the same instant in UTC
        "2026-01-05T15:00:00",  # no offset
        "yesterday",
    ],
)
async def test_a_bad_accident_time_is_a_400_naming_it(client, tokens, occurred_at):
    body = case_body(occurred_at=occurred_at)
    refused = await client.post("/v1/cases", json=body, headers=tokens["disp"])
    assert refused.status_code == 400, refused.text
    assert "occurred_at" in refused.json()["detail"]
    # Nothing was stored: the same case_no opens afresh.
    body.pop("occurred_at")
    assert (await client.post("/v1/cases", json=body, headers=tokens["disp"])).status_code == 201


async def test_the_pull_carries_accident_time_and_late_report(client, tokens):
    opened = await open_case(client, tokens["disp"], occurred_at="2026-01-01T09:00:00+08:00")
    dispatched = await client.post(
        f"/v1/cases/{opened['id']}/dispatch", json={"surveyor": "sv1"}, headers=tokens["disp"]
    )
    assert dispatched.status_code == 200 and dispatched.json()["late_report"] is True
    pulled = await client.get("/v1/sync/pull", headers=tokens["sv1"])
    (case,) = pulled.json()["cases"]
    assert case["late_report"] is True
    assert when(case["occurred_at"]) == when("2026-01-01T01:00:00Z")


@pytest.fixture
async def one_hour(settings, clock):
    """A client of an app where a report over 1 h after the accident is late."""
    app = create_app(msgspec.structs.replace(settings, late_report_seconds=3600), clock=clock)
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_the_threshold_is_configurable(one_hour, tokens):
    late = await open_case(one_hour, tokens["disp"], occurred_at="2026-01-05T13:55:00+08:00")
    prompt = await open_case(one_hour, tokens["disp"], occurred_at="2026-01-05T15:00:00+08:00")
    assert late["late_report"] is True  # 2 h: late under a 1 h rule, not under 48 h
    assert prompt["late_report"] is False
    assert (await _board_row(one_hour, tokens, late["id"]))["late_report"] is True


async def test_a_delegated_in_case_says_who_delegated_it(client, tokens):
    delegated = await open_case(client, tokens["disp"], delegated_from="太保北京分公司")
    assert delegated["delegated_in"] is True
    assert delegated["delegated_from"] == "太保北京分公司"
    read = await _read(client, tokens, delegated["id"])
    assert read["delegated_in"] is True and read["delegated_from"] == "太保北京分公司"
    assert (await _board_row(client, tokens, delegated["id"]))["delegated_in"] is True
    ours = await open_case(client, tokens["disp"])
    assert ours["delegated_in"] is False and ours["delegated_from"] is None
    assert (await _board_row(client, tokens, ours["id"]))["delegated_in"] is False


async def test_only_the_desk_records_a_delegation_in(client, tokens):
    body = case_body(delegated_from="another branch")
    refused = await client.post("/v1/cases", json=body, headers=tokens["sv1"])
    assert refused.status_code == 403 and "delegated_from" in refused.json()["detail"]


def test_the_threshold_is_read_from_the_environment_or_refused():
    env = {"KANCHA_LATE_REPORT_SECONDS": "7200"}
    assert Settings.from_env(env).intake_rules.late_report == timedelta(hours=2)
    assert Settings().intake_rules.late_report == timedelta(hours=48)
    with pytest.raises(SettingsError, match="KANCHA_LATE_REPORT_SECONDS: must not be"):
        create_app(Settings.from_env({"KANCHA_LATE_REPORT_SECONDS": "-5"}))
