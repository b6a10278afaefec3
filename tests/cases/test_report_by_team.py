"""The SLA report by team: each timing counts for the team stored on it (the team of the
dispatch it answers, whose limits judged it; `(none)` for none, and so for the case's own
`report_to_arrival`); a case's rates and money count for the team of its last dispatch."""

from __future__ import annotations

import csv
import io

import pytest

from cases.users import set_team
from server.settings import Settings
from tests.factories import T0, at, dispatched_case
from tests.tablets import Tablet, review

TEAMS = {"ordinary": {"arrival.city": 20 * 60}}
DAY = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "group_by": "team"}


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "data"),
        database_url=database_url,
        limits={"arrival.city": 30 * 60},
        team_limits=TEAMS,
    )


async def a_morning_of_two_teams(client, tokens, clock, db) -> dict[str, dict]:
    """sv1 (ordinary, 20 min) late on one case and on time on another, which is then handed
    over to sv2 (no team) for its estimate, approved with a cut; sv2 on time on a third."""
    async with db.session() as session:
        await set_team(session, "sv1", "ordinary")
        await session.commit()
    clock.set(T0)
    cases = {
        "late": await dispatched_case(client, tokens, surveyor="sv1"),
        "handed": await dispatched_case(client, tokens, surveyor="sv1"),
        "other": await dispatched_case(client, tokens, surveyor="sv2"),
    }
    one, two = Tablet(tokens["sv1"]), Tablet(tokens["sv2"])
    one.record(cases["late"]["id"], "arrived", at(25), gps=True)  # over the team's 20 min
    one.record(cases["handed"]["id"], "arrived", at(10), gps=True)
    two.record(cases["other"]["id"], "arrived", at(25), gps=True)  # within the default 30
    clock.set(at(30))
    await one.flush(client, clock)
    await two.flush(client, clock)
    clock.set(at(31))  # the arrivals were received before the handover
    handover = await client.post(
        f"/v1/cases/{cases['handed']['id']}/dispatch",
        json={"surveyor": "sv2", "purpose": "estimate"},
        headers=tokens["disp"],
    )
    assert handover.status_code == 200, handover.text
    two.record(cases["handed"]["id"], "estimate_submitted", at(40), amount=12000)
    clock.set(at(41))
    await two.flush(client, clock)
    approved = await review(
        client, tokens, cases["handed"]["id"], decision="approved", approved_amount=11000
    )
    assert approved.status_code == 200, approved.text
    return cases


async def test_timings_count_for_the_team_stored_on_them(client, tokens, clock, db):
    await a_morning_of_two_teams(client, tokens, clock, db)
    response = await client.get("/v1/reports/sla", params=DAY, headers=tokens["disp"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["group_by"] == "team"
    groups = {g["group"]: g for g in body["groups"]}
    assert sorted(groups) == ["(none)", "ordinary"]
    ordinary, none = groups["ordinary"], groups["(none)"]
    # The arrivals answered dispatches of the ordinary team: one late of two.
    arrival = ordinary["timings"]["arrival"]
    assert (arrival["decided"], arrival["within"], arrival["share"]) == (2, 1, 0.5)
    assert arrival["tiers"]["city"]["limit_seconds"] == 1200
    assert (none["timings"]["arrival"]["decided"], none["timings"]["arrival"]["within"]) == (1, 1)
    assert none["timings"]["arrival"]["tiers"]["city"]["limit_seconds"] == 1800
    # The customer's wait is the case's, judged with no team's limits: all three in (none).
    assert ordinary["timings"]["report_to_arrival"]["decided"] == 0
    assert none["timings"]["report_to_arrival"]["decided"] == 3
    assert (ordinary["cases"], none["cases"]) == (2, 3)
    # Rates and money once per case, for its last dispatch's team: the handed case is sv2's.
    assert ordinary["rates"]["first_scene"] == {"decided": 1, "within": 1, "share": 1.0}
    assert none["rates"]["first_scene"] == {"decided": 2, "within": 2, "share": 1.0}
    assert (ordinary["approved_cases"], none["approved_cases"]) == (0, 1)
    assert (none["estimated_total"], none["reduction_total"]) == (12000, 1000)


async def test_the_team_report_as_csv(client, tokens, clock, db):
    await a_morning_of_two_teams(client, tokens, clock, db)
    response = await client.get(
        "/v1/reports/sla", params=DAY, headers={**tokens["rev"], "Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.text.splitlines()[0].startswith("team,cases,")
    rows = {row["team"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert sorted(rows) == ["(none)", "ordinary"]
    assert (rows["ordinary"]["arrival_decided"], rows["ordinary"]["arrival_within"]) == ("2", "1")
    assert rows["ordinary"]["arrival.city_share"] == "0.5"
    assert rows["(none)"]["report_to_arrival_decided"] == "3"
    assert rows["(none)"]["reduction_total"] == "1000.0"


async def test_a_day_without_teams_is_one_none_group_and_a_bad_group_is_named(client, tokens):
    await dispatched_case(client, tokens, surveyor="sv2")
    response = await client.get("/v1/reports/sla", params=DAY, headers=tokens["disp"])
    assert [g["group"] for g in response.json()["groups"]] == ["(none)"]
    bad = await client.get(
        "/v1/reports/sla", params={**DAY, "group_by": "squad"}, headers=tokens["disp"]
    )
    assert bad.status_code == 400 and "group_by" in bad.text
