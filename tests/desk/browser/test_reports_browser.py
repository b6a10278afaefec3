"""In a real browser: the SLA report of the week as a table and a chart, and its CSV
downloaded as a file."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from tests.desk.browser.conftest import shot
from tests.desk.browser.seed import surveyed
from tests.desk.browser.steps import logged_in


def test_the_report_shows_a_table_and_a_chart_and_downloads_its_csv(page, desk_server):
    surveyed(desk_server)  # sv1 has a case this week
    logged_in(page, "disp", "/board")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Reports").click()
    page.locator("#report-group").select_option("surveyor")
    page.locator("#report-show").click()
    expect(page.locator("#report-table tr[data-group='sv1']")).to_be_visible()
    expect(page.locator("svg#report-chart-svg")).to_be_visible()
    shot(page, "reports")

    with page.expect_download() as download:
        page.locator("#report-csv").click()
    file = download.value
    assert file.suggested_filename.startswith("sla-surveyor-")
    assert file.suggested_filename.endswith(".csv")
    with open(file.path(), encoding="utf-8") as saved:
        rows = list(csv.reader(io.StringIO(saved.read())))
    assert rows[0][:2] == ["surveyor", "cases"]
    assert "sv1" in [row[0] for row in rows[1:]]
