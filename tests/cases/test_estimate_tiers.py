"""Estimate tiers as the seeds write them: 2,000 yuan included is small (on the spot) when
the case is simple with clear liability; a small case that is not follows the 24 h rule;
over 10,000 is large, timed from the disassembly (items fixed in 2 days, estimate in 5);
the boundaries are configurable like the limits."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings, SettingsError
from tests.factories import T0, at, dispatched_case
from tests.tablets import Tablet, case_read


async def _estimated(client, tokens, clock, *, amount, simple=True):
    clock.set(T0)
    case = await dispatched_case(client, tokens, simple_procedure=simple)
    tablet = Tablet(tokens["sv1"])
    tablet.record(case["id"], "arrived", at(20), gps=True)
    tablet.record(case["id"], "survey_completed", at(50))
    tablet.record(case["id"], "estimate_submitted", at(80), amount=amount)
    clock.set(at(81))
    await tablet.flush(client, clock)
    return case


async def _timings(client, case_id, tokens):
    body = await case_read(client, case_id, tokens["disp"])
    return {t["name"]: t for t in body["timings"]}


async def test_two_thousand_yuan_on_a_simple_case_is_on_the_spot(client, tokens, clock):
    case = await _estimated(client, tokens, clock, amount=2000)
    estimate = (await _timings(client, case["id"], tokens))["estimate"]
    assert (estimate["limit_key"], estimate["limit_seconds"]) == ("estimate.small", 2 * 3600)
    assert (estimate["seconds"], estimate["state"]) == (60 * 60, "met")  # from arrival


async def test_just_over_two_thousand_follows_the_24_hour_rule(client, tokens, clock):
    case = await _estimated(client, tokens, clock, amount=2000.01)
    estimate = (await _timings(client, case["id"], tokens))["estimate"]
    assert (estimate["limit_key"], estimate["seconds"]) == ("estimate.medium", 30 * 60)


async def test_a_small_case_without_simple_procedure_follows_the_24_hour_rule(
    client, tokens, clock
):
    case = await _estimated(client, tokens, clock, amount=800, simple=False)
    estimate = (await _timings(client, case["id"], tokens))["estimate"]
    assert (estimate["limit_key"], estimate["limit_seconds"]) == ("estimate.medium", 86400)
    assert estimate["seconds"] == 30 * 60  # from the survey's completion, not the arrival


async def test_a_large_case_is_timed_from_its_disassembly(client, tokens, clock):
    clock.set(T0)
    case = await dispatched_case(client, tokens, simple_procedure=False)
    tablet = Tablet(tokens["sv1"])
    tablet.record(case["id"], "arrived", at(20), gps=True)
    tablet.record(case["id"], "survey_completed", at(50))
    tablet.record(case["id"], "disassembled", at(24 * 60))  # the next morning, at the shop
    clock.set(at(24 * 60 + 5))
    await tablet.flush(client, clock)
    got = await _timings(client, case["id"], tokens)
    # Disassembled: the case is large before any estimate says so.
    assert (got["estimate"]["limit_key"], got["estimate"]["state"]) == ("estimate.large", "running")
    assert got["estimate"]["start"] == "2026-01-06T08:00:00Z"
    assert (got["items_fixed"]["limit_seconds"], got["items_fixed"]["seconds"]) == (172800, 300)
    assert got["front_end_cycle"]["limit_key"] == "front_end_cycle.large"

    tablet.record(case["id"], "items_fixed", at(24 * 60 + 36 * 60))  # 36 h after disassembly
    tablet.record(case["id"], "estimate_submitted", at(24 * 60 + 4 * 24 * 60), amount=48000)
    clock.set(at(6 * 24 * 60))
    await tablet.flush(client, clock)
    got = await _timings(client, case["id"], tokens)
    assert (got["items_fixed"]["seconds"], got["items_fixed"]["state"]) == (36 * 3600, "met")
    estimate = got["estimate"]
    assert (estimate["limit_key"], estimate["limit_seconds"]) == ("estimate.large", 5 * 86400)
    assert (estimate["seconds"], estimate["state"]) == (4 * 86400, "met")
    cycle = got["front_end_cycle"]
    assert (cycle["limit_key"], cycle["state"]) == ("front_end_cycle.large", "met")
    assert cycle["seconds"] == 5 * 86400  # from the dispatch to the last estimate


async def test_a_large_estimate_without_a_disassembly_is_flagged(client, tokens, clock):
    case = await _estimated(client, tokens, clock, amount=30000, simple=False)
    estimate = (await _timings(client, case["id"], tokens))["estimate"]
    assert estimate["limit_key"] == "estimate.large"
    assert "no_disassembled" in estimate["flags"] and estimate["seconds"] == 30 * 60


async def test_tier_boundaries_are_configurable(database_url, tmp_path, tokens, clock):
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        database_url=database_url,
        estimate_tiers={"small_max": 3000, "large_above": 20000},
    )
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        small = await _estimated(client, tokens, clock, amount=2500)
        medium = await _estimated(client, tokens, clock, amount=15000, simple=False)
        got = [(await _timings(client, c["id"], tokens)) for c in (small, medium)]
    assert got[0]["estimate"]["limit_key"] == "estimate.small"
    assert got[1]["estimate"]["limit_key"] == "estimate.medium"
    assert got[1]["front_end_cycle"]["limit_key"] == "front_end_cycle.small"


@pytest.mark.parametrize(
    ("value", "named"),
    [('{"small": 1}', "small"), ('{"small_max": 20000}', "small_max"), ("[1]", "object")],
)
def test_unusable_tiers_stop_the_server_naming_them(tmp_path, value, named):
    env = {"KANCHA_ESTIMATE_TIERS": value, "KANCHA_DATA_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match=f"KANCHA_ESTIMATE_TIERS.*{named}"):
        create_app(Settings.from_env(env))


async def _report(client, tokens, *, csv=False):
    params = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "group_by": "zone"}
    headers = tokens["disp"] | ({"Accept": "text/csv"} if csv else {})
    response = await client.get("/v1/reports/sla", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.text if csv else response.json()["groups"][0]["timings"]


async def test_the_report_averages_the_front_end_cycle_per_tier(client, tokens, clock):
    await _estimated(client, tokens, clock, amount=1500)  # cycle 80 min
    await _estimated(client, tokens, clock, amount=9000, simple=False)  # cycle 80 min
    large = await _estimated(client, tokens, clock, amount=60000, simple=False)
    clock.set(at(120))
    before = await _report(client, tokens)
    cycle = before["front_end_cycle"]
    assert (cycle["decided"], cycle["average_seconds"]) == (3, 80 * 60)  # all three pooled
    small, big = cycle["tiers"]["small"], cycle["tiers"]["large"]
    assert (small["decided"], small["within"], small["average_seconds"]) == (2, 2, 80 * 60)
    assert (small["limit_seconds"], small["average_within_limit"]) == (5 * 86400, True)
    assert (big["decided"], big["limit_seconds"]) == (1, 20 * 86400)
    estimate = before["estimate"]["tiers"]
    assert sorted(estimate) == ["large", "medium", "small"]
    assert before["accept"]["tiers"] == {}

    # Decided at the last estimate: the approval a day later changes nothing in the report.
    clock.set(at(24 * 60))
    response = await client.post(
        f"/v1/cases/{large['id']}/review", json={"decision": "approved"}, headers=tokens["rev"]
    )
    assert response.status_code == 200, response.text
    assert (await _report(client, tokens))["front_end_cycle"] == cycle

    lines = (await _report(client, tokens, csv=True)).splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    assert header[:2] == ["zone", "cases"] and header[2] == "report_to_arrival_decided"
    cells = dict(zip(header, row, strict=True))
    assert cells["front_end_cycle.small_average_seconds"] == str(80 * 60)
    assert cells["front_end_cycle.large_decided"] == "1"
    assert cells["estimate.large_within"] == "1"
