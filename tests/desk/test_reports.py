"""The reports page: the SLA report for a period of branch dates, by surveyor, zone or team,
as a table and a server-drawn SVG chart, its CSV, and the branch rates against targets."""

from __future__ import annotations

import csv
import io
import re

from tests.desk.helpers import log_in, with_password
from tests.factories import T0, at, dispatched_case
from tests.tablets import Tablet

FAR = {"lat": 31.2574, "lon": 121.4737, "accuracy_m": 8}  # 3 km north of the scene
DAY = {"from": "2026-01-05", "to": "2026-01-05"}  # T0 is 16:00 there (+08:00)


async def a_morning(client, tokens, clock):
    """sv1 arrives on time at the scene; sv2 arrives late, 3 km away (not at the scene)."""
    clock.set(T0)
    one = await dispatched_case(client, tokens, surveyor="sv1", zone="city")
    two = await dispatched_case(client, tokens, surveyor="sv2", zone="suburban")
    first, second = Tablet(tokens["sv1"]), Tablet(tokens["sv2"])
    first.record(one["id"], "accepted", at(1))
    first.record(one["id"], "arrived", at(20), gps=True)
    second.record(two["id"], "accepted", at(5))  # over the 3 min
    second.record(two["id"], "arrived", at(70), gps={**FAR, "fix_time": at(70).isoformat()})
    clock.set(at(80))
    await first.flush(client, clock)
    await second.flush(client, clock)
    return one, two


async def logged_in(client, db, name="disp"):
    await with_password(db, name)
    response = await log_in(client, name)
    assert response.status_code == 303, response.text


def row(html: str, group: str) -> str:
    found = re.search(rf'<tr data-group="{re.escape(group)}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {group}"
    return found.group(1)


def cell(html: str, attribute: str) -> str:
    found = re.search(rf"<td {attribute}[^>]*>(.*?)</td>", html, re.S)
    assert found, attribute
    return re.sub(r"<[^>]+>", " ", found.group(1))


async def test_the_report_by_surveyor_as_a_table_and_a_chart(client, tokens, clock, db):
    await a_morning(client, tokens, clock)
    await logged_in(client, db)
    page = await client.get("/reports", params={**DAY, "group_by": "surveyor"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "SLA report" in html and 'id="report-table"' in html
    assert "Cases dispatched from 2026-01-05 00:00 to before 2026-01-06 00:00" in html
    sv1, sv2 = row(html, "sv1"), row(html, "sv2")
    assert "100.0 %" in cell(sv1, 'data-timing="accept"')
    assert "1/1" in cell(sv1, 'data-timing="accept"')
    assert "0.0 %" in cell(sv2, 'data-timing="accept"')
    assert "0/1" in cell(sv2, 'data-timing="arrival"')  # 70 min in the suburbs: over its hour
    # The chart of the chosen timing (arrival by default): one bar per group, drawn here.
    chart = re.search(r'<svg id="report-chart-svg".*?</svg>', html, re.S).group(0)
    assert "Arrival: share within limit per group" in chart
    assert "<title>sv1: 100.0 % (1/1)</title>" in chart
    assert "<title>sv2: 0.0 % (0/1)</title>" in chart
    assert 'width="500.0"' in chart and 'width="0.0"' in chart
    assert "<script" not in chart


async def test_the_chart_follows_the_chosen_timing_and_zones_are_named(client, tokens, clock, db):
    await a_morning(client, tokens, clock)
    await logged_in(client, db)
    page = await client.get("/reports", params={**DAY, "group_by": "zone", "chart": "accept"})
    assert page.status_code == 200, page.text
    assert "Accept: share within limit per group" in page.text
    assert "<title>city: 100.0 % (1/1)</title>" in page.text
    city = row(page.text, "city")
    assert "City" in city and "Suburban county" in row(page.text, "suburban")
    assert 'value="zone" selected' in page.text and 'value="accept" selected' in page.text


async def test_by_team(client, tokens, clock, db):
    await a_morning(client, tokens, clock)
    await logged_in(client, db, "rev")  # reviewers read reports too
    page = await client.get("/reports", params={**DAY, "group_by": "team"})
    assert page.status_code == 200, page.text
    assert "(none)" in row(page.text, "(none)")  # no team anywhere: one group
    assert cell(row(page.text, "(none)"), 'data-col="cases"').strip() == "2"


async def test_branch_rates_against_their_targets(client, tokens, clock, db):
    await a_morning(client, tokens, clock)
    await logged_in(client, db)
    html = (await client.get("/reports", params=DAY)).text
    rates = re.search(r'<section id="branch-rates".*?</section>', html, re.S).group(0)
    first_scene = re.search(r'<td id="rate-first_scene" class="([^"]*)">(.*?)</td>', rates, re.S)
    assert first_scene.group(1) == "below-target"
    assert "50.0 %" in first_scene.group(2) and "(1/2)" in first_scene.group(2)
    assert "≥ 98.0 %" in rates and "≥ 90.0 %" in rates and "below target" in rates
    # No simple-procedure survey completed: nothing decided for documents yet.
    assert "nothing decided yet" in rates
    svg = re.search(r'<svg id="report-rates-svg".*?</svg>', rates, re.S).group(0)
    assert 'class="bar below"' in svg and 'class="target"' in svg


async def test_the_csv_download_is_the_apis_csv(client, tokens, clock, db):
    await a_morning(client, tokens, clock)
    api = await client.get(
        "/v1/reports/sla",
        params={
            "from": "2026-01-05T00:00:00+08:00",
            "to": "2026-01-06T00:00:00+08:00",
            "group_by": "zone",
        },
        headers={**tokens["disp"], "Accept": "text/csv"},
    )
    await logged_in(client, db)
    page = await client.get("/reports", params={**DAY, "group_by": "zone"})
    link = re.search(r'<a id="report-csv"[^>]* href="([^"]+)"', page.text).group(1)
    download = await client.get(link.replace("&amp;", "&"))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    disposition = download.headers["content-disposition"]
    assert disposition == 'attachment; filename="sla-zone-2026-01-05-2026-01-05.csv"'
    assert download.text == api.text
    rows = {r["zone"]: r for r in csv.DictReader(io.StringIO(download.text))}
    assert rows["city"]["accept_within"] == "1"


async def test_without_a_period_the_week_up_to_today(client, tokens, clock, db):
    await a_morning(client, tokens, clock)
    await logged_in(client, db)
    page = await client.get("/reports")
    assert page.status_code == 200, page.text
    assert 'value="2025-12-30"' in page.text and 'value="2026-01-05"' in page.text
    assert 'data-group="sv1"' in page.text
    empty = await client.get("/reports", params={"from": "2025-01-01", "to": "2025-01-02"})
    assert empty.status_code == 200 and "No case was dispatched in this period." in empty.text


async def test_a_period_that_cannot_be_read_is_shown_beside_the_form(client, tokens, db):
    await logged_in(client, db)
    cases = [
        ({"from": "yesterday", "to": "2026-01-05"}, "(from): must be a date"),
        ({"from": "2026-01-06", "to": "2026-01-05"}, "(to): must be on or after from"),
        ({"from": "2026-01-05", "to": "9999-12-31"}, "(to):"),
        ({"from": "0001-01-01", "to": "0001-01-01"}, "(from): out of range"),
        ({"from": "1990-01-01", "to": "2026-01-05"}, "at most 3660 days"),
        ({**DAY, "group_by": "squad"}, "(group_by): must be one of surveyor, zone, team"),
        ({**DAY, "chart": "lunch"}, "(chart):"),
        ({"from": "2026-01-05" + "5" * 100, "to": "2026-01-05"}, "(from): must be a date"),
    ]
    for params, message in cases:
        for path in ("/reports", "/reports/sla.csv"):
            page = await client.get(path, params=params)
            assert page.status_code == 400, (params, page.text)
            assert 'id="report-error"' in page.text and message in page.text, (params, page.text)
            assert 'id="report-filters"' in page.text  # the form again, as typed
            assert 'id="report-csv"' not in page.text


async def test_in_chinese(client, tokens, clock, db):
    await a_morning(client, tokens, clock)
    await logged_in(client, db)
    page = await client.get("/reports", params=DAY, headers={"Accept-Language": "zh-CN"})
    assert "时效报表" in page.text and "现场查勘率" in page.text and "下载 CSV" in page.text
    assert 'for="report-from"' in page.text and 'for="report-group"' in page.text


async def test_only_desk_users_see_reports(client, tokens, db):
    response = await client.get("/reports", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    csv_response = await client.get("/reports/sla.csv", follow_redirects=False)
    assert csv_response.status_code == 303
    await logged_in(client, db, "admin")
    assert (await client.get("/reports")).status_code == 200
