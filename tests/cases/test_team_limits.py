"""Limits per team and per zone: the ordinary-case team's 20 / 40 min arrival and a county's
own accept live in one deployment (team > zone > KANCHA_LIMITS > defaults). Each timing is
judged with the team of the dispatch it answers, on the board, the case, the pull and the
report alike; case-level timings (the customer's wait) with no team's."""

from __future__ import annotations

import pytest

from cases.limits import Limits, LimitsError
from cases.users import set_team
from server.app import create_app
from server.settings import Settings, SettingsError
from tests.factories import at, bearer, dispatched_case
from tests.live import clean_env, run_kancha
from tests.server.test_startup_errors import serve_refused
from tests.tablets import Tablet

TEAMS = {"ordinary": {"arrival.city": 20 * 60, "arrival.suburban": 40 * 60, "accept": 120}}
ZONES = {"suburban": {"accept": 300, "arrival.suburban": 50 * 60}}


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "data"),
        database_url=database_url,
        limits={"arrival.city": 30 * 60},
        team_limits=TEAMS,
        zone_limits=ZONES,
    )


async def _team(db, name, team):
    async with db.session() as session:
        await set_team(session, name, team)
        await session.commit()


async def _limits(client, tokens, case_id) -> dict[str, tuple[int, str]]:
    response = await client.get(f"/v1/cases/{case_id}", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    timings = response.json()["timings"]
    # The team whose table was looked up: the case's own timing (the customer's wait) none.
    assert all(t["team"] is None for t in timings if t["name"] == "report_to_arrival")
    return {t["name"]: (t["limit_seconds"], t["state"]) for t in timings}


async def _board(client, tokens) -> dict[str, dict[str, dict]]:
    response = await client.get("/v1/board", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    return {c["case_id"]: {t["name"]: t for t in c["timings"]} for c in response.json()["cases"]}


async def test_an_ordinary_team_arrival_is_judged_against_20_minutes(client, tokens, clock, db):
    await _team(db, "sv1", "ordinary")
    ordinary = await dispatched_case(client, tokens, surveyor="sv1")
    other = await dispatched_case(client, tokens, surveyor="sv2")
    clock.set(at(25))

    mine = await _limits(client, tokens, ordinary["id"])
    theirs = await _limits(client, tokens, other["id"])
    assert mine["arrival"] == (1200, "overdue")
    assert theirs["arrival"] == (1800, "running")
    # The customer's wait is the case's, not the team's: the same limit for both.
    assert mine["report_to_arrival"][0] == theirs["report_to_arrival"][0] == 1800
    board = await _board(client, tokens)
    assert board[ordinary["id"]]["arrival"]["limit_seconds"] == 1200
    assert board[ordinary["id"]]["arrival"]["team"] == "ordinary"
    assert board[ordinary["id"]]["report_to_arrival"]["team"] is None
    assert board[other["id"]]["arrival"]["team"] is None
    assert board[ordinary["id"]]["arrival"]["due_at"].startswith("2026-01-05T08:20:00")
    assert board[other["id"]]["arrival"]["limit_seconds"] == 1800
    pulled = await client.get("/v1/sync/pull", headers=tokens["sv1"])
    running = {t["name"]: t for t in pulled.json()["cases"][0]["running"]}
    assert running["arrival"]["limit_seconds"] == 1200 and running["arrival"]["seconds_left"] < 0

    for surveyor, case in (("sv1", ordinary), ("sv2", other)):
        tablet = Tablet(tokens[surveyor])
        tablet.record(case["id"], "arrived", at(25), gps=True)
        await tablet.flush(client, clock)
    assert (await _limits(client, tokens, ordinary["id"]))["arrival"] == (1200, "missed")
    assert (await _limits(client, tokens, other["id"]))["arrival"] == (1800, "met")
    report = await client.get(
        "/v1/reports/sla",
        params={
            "from": "2026-01-05T00:00:00Z",
            "to": "2026-01-06T00:00:00Z",
            "group_by": "surveyor",
        },
        headers=tokens["disp"],
    )
    assert report.status_code == 200, report.text
    arrival = {g["group"]: g["timings"]["arrival"] for g in report.json()["groups"]}
    assert (arrival["sv1"]["decided"], arrival["sv1"]["within"]) == (1, 0)
    assert (arrival["sv2"]["decided"], arrival["sv2"]["within"]) == (1, 1)


async def test_the_team_is_the_one_of_the_dispatch(client, tokens, clock, db):
    await _team(db, "sv1", "ordinary")
    case = await dispatched_case(client, tokens, surveyor="sv1")
    await _team(db, "sv1", None)  # leaving the team later changes no dispatch made before
    assert (await _limits(client, tokens, case["id"]))["arrival"][0] == 1200
    # A scene re-dispatch to a surveyor of no team: the default (KANCHA_LIMITS) again.
    clock.set(at(5))
    response = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv2"}, headers=tokens["disp"]
    )
    assert response.status_code == 200, response.text
    assert (await _limits(client, tokens, case["id"]))["arrival"][0] == 1800


async def test_a_zone_sets_its_own_and_a_team_beats_it(client, tokens, db):
    suburban = await dispatched_case(client, tokens, surveyor="sv2", zone="suburban")
    city = await dispatched_case(client, tokens, surveyor="sv2", zone="city")
    limits = await _limits(client, tokens, suburban["id"])
    assert limits["accept"][0] == 300 and limits["arrival"][0] == 50 * 60
    assert (await _limits(client, tokens, city["id"]))["accept"][0] == 180  # the default
    await _team(db, "sv1", "ordinary")
    county = await dispatched_case(client, tokens, surveyor="sv1", zone="suburban")
    limits = await _limits(client, tokens, county["id"])
    assert limits["accept"][0] == 120 and limits["arrival"][0] == 40 * 60  # the team's
    # The customer's wait: no team, so the zone's table and then the default.
    assert limits["report_to_arrival"][0] == 60 * 60


async def test_user_add_with_a_team_and_user_team(tmp_path, database_url, client, tokens):
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)
    added = run_kancha(
        "user", "add", "zhou", "--role", "surveyor", "--team", "ordinary", env=env, cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    assert "surveyor zhou of team ordinary" in added.stdout
    assert (
        "zhou\tsurveyor\tactive\tteam ordinary"
        in run_kancha("user", "list", env=env, cwd=tmp_path).stdout
    )
    case = await dispatched_case(client, tokens, surveyor="zhou")
    assert (await _limits(client, tokens, case["id"]))["arrival"][0] == 1200
    read = await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])
    teams = {t["name"]: t["team"] for t in read.json()["timings"]}
    assert teams["arrival"] == teams["accept"] == "ordinary"
    assert teams["report_to_arrival"] is None
    token = added.stdout.strip().splitlines()[-1]
    pulled = await client.get("/v1/sync/pull", headers=bearer(token))
    assert pulled.json()["cases"][0]["id"] == case["id"]

    moved = run_kancha("user", "team", "zhou", "large", env=env, cwd=tmp_path)
    assert moved.returncode == 0 and "zhou is in team large" in moved.stdout
    cleared = run_kancha("user", "team", "zhou", env=env, cwd=tmp_path)
    assert cleared.returncode == 0 and "zhou is in no team" in cleared.stdout
    run_kancha("user", "team", "zhou", "large", env=env, cwd=tmp_path)
    cleared = run_kancha("user", "team", "zhou", "none", env=env, cwd=tmp_path)
    assert cleared.returncode == 0 and "zhou is in no team" in cleared.stdout
    assert "\tteam" not in run_kancha("user", "list", env=env, cwd=tmp_path).stdout
    missing = run_kancha("user", "team", "nobody", "x", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "no user named 'nobody'" in missing.stderr


def test_limit_lookup_precedence():
    limits = Limits({"accept": 200}, team_limits=TEAMS, zone_limits=ZONES)
    assert limits["accept"] == 200  # limits[key] still: KANCHA_LIMITS over the default
    assert limits.limit("accept", zone="city") == 200
    assert limits.limit("accept", zone="suburban") == 300
    assert limits.limit("accept", team="ordinary", zone="suburban") == 120
    assert limits.limit("accept", team="large", zone="suburban") == 300  # no table of its own
    assert limits.limit("resubmit", team="ordinary", zone="suburban") == 2 * 24 * 3600  # default


@pytest.mark.parametrize(
    ("team_limits", "zone_limits", "message"),
    [
        (
            {"ordinary": {"arival.city": 1200}},
            {},
            "KANCHA_TEAM_LIMITS: ordinary: unknown timing limit 'arival.city'",
        ),
        (
            {"ordinary": {"arrival.city": 0}},
            {},
            "KANCHA_TEAM_LIMITS: ordinary: arrival.city: must be between 1",
        ),
        ({" ": {"accept": 60}}, {}, "KANCHA_TEAM_LIMITS: a team name must not be empty"),
        ({}, {"county": {"accept": 60}}, "KANCHA_ZONE_LIMITS: unknown zone 'county'"),
        (
            {},
            {"suburban": {"accept": 1.5}},
            "KANCHA_ZONE_LIMITS: suburban: accept: must be a whole number",
        ),
        (
            {},
            {"suburban": {"arrival.city": 60}},
            "KANCHA_ZONE_LIMITS: suburban: arrival.city: a city limit never applies here",
        ),
        (
            {},
            {"out_of_town": {"arrival.out_of_town": 60}},
            "KANCHA_ZONE_LIMITS: out_of_town: "
            "arrival.out_of_town: out-of-town cases are timed by `delegation`",
        ),
    ],
)
def test_unusable_team_or_zone_limits_stop_the_start(tmp_path, team_limits, zone_limits, message):
    settings = Settings(data_dir=str(tmp_path), team_limits=team_limits, zone_limits=zone_limits)
    with pytest.raises(SettingsError) as refused:
        create_app(settings)
    assert str(refused.value).startswith(message)


def test_team_and_zone_limits_come_from_the_environment():
    settings = Settings.from_env(
        {
            "KANCHA_TEAM_LIMITS": '{"ordinary": {"arrival.city": 1200, "arrival.suburban": 2400}}',
            "KANCHA_ZONE_LIMITS": '{"suburban": {"accept": 300}}',
            "KANCHA_LOAD_WINDOW_SECONDS": "1800",
        }
    )
    assert settings.team_limits == {"ordinary": {"arrival.city": 1200, "arrival.suburban": 2400}}
    assert settings.zone_limits == {"suburban": {"accept": 300}}
    assert settings.load_window_seconds == 1800
    with pytest.raises(SettingsError, match="KANCHA_TEAM_LIMITS: not valid JSON"):
        Settings.from_env({"KANCHA_TEAM_LIMITS": '{"ordinary": '})
    with pytest.raises(SettingsError, match="KANCHA_ZONE_LIMITS: suburban: expected an object"):
        Settings.from_env({"KANCHA_ZONE_LIMITS": '{"suburban": 300}'})
    with pytest.raises(SettingsError, match="KANCHA_ZONE_LIMITS: expected a JSON object"):
        Settings.from_env({"KANCHA_ZONE_LIMITS": "[300]"})
    with pytest.raises(LimitsError, match="ordinary: unknown timing limit 'x'"):
        Limits(team_limits={"ordinary": {"x": 1}})


def test_kancha_serve_names_the_variable_and_key(tmp_path):
    line = serve_refused(tmp_path, KANCHA_TEAM_LIMITS='{"ordinary": {"arrival.city": "fast"}}')
    assert line == (
        "kancha: KANCHA_TEAM_LIMITS: ordinary: arrival.city: expected a whole number of "
        "seconds, got 'fast'"
    )
    line = serve_refused(tmp_path, KANCHA_ZONE_LIMITS='{"county": {"accept": 60}}')
    assert line.startswith("kancha: KANCHA_ZONE_LIMITS: unknown zone 'county'")
    line = serve_refused(tmp_path, KANCHA_LOAD_WARN_COUNT="0")
    assert line == "kancha: KANCHA_LOAD_WARN_COUNT: must be at least 1"
