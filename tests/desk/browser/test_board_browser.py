"""In a real browser, the dispatcher's day on the board: open a case from the form,
dispatch it from its row, and watch its accept timing turn overdue without a reload (the
server's clock runs compressed: the accept limit passes in a few real seconds)."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.desk.browser.conftest import shot
from tests.desk.browser.seed import BRANCH, SCENE, api, case_no, dispatched, open_case
from tests.desk.browser.steps import logged_in


def test_open_a_case_dispatch_it_and_watch_its_timing_turn_overdue(page, desk_server):
    logged_in(page, "disp", "/board")
    number = case_no("BOARD")
    reported = (desk_server.clock.now() - timedelta(minutes=2)).astimezone(BRANCH)
    page.locator("#board-open summary").click()
    page.locator("#open-case_no").fill(number)
    page.locator("#open-reported_at").fill(reported.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#open-address").fill("人民广场, 黄浦区, 上海")
    page.locator("#open-lat").fill(str(SCENE["lat"]))
    page.locator("#open-lon").fill(str(SCENE["lon"]))
    page.locator("#open-case-form").get_by_role("button").click()
    expect(page.locator("#board-done")).to_contain_text(f"Case {number} opened")
    page.get_by_role("link", name="Back to the board").first.click()
    row = page.locator(f"#board-table tr[data-case-no='{number}']")
    expect(row).to_contain_text("not dispatched")

    row.locator("a.act").click()  # the act panel, loaded in place by htmx
    panel = page.locator("#board-panel #dispatch-form")
    expect(panel).to_be_visible()
    shot(page, "board-panel")
    panel.locator("#dispatch-surveyor").select_option("sv1")
    panel.get_by_role("button", name="Dispatch").click()
    expect(page.locator("#board-done")).to_contain_text(f"Case {number} dispatched.")
    accept = page.locator(f"#board-table tr[data-case-no='{number}'] li[data-timing='accept']")
    expect(accept).to_contain_text("left")
    expect(accept).not_to_have_class(re.compile(r"\boverdue\b"))
    shot(page, "board")
    page.evaluate("window.__still_this_page = true")  # a reload would drop it
    # The board refreshes itself every 5 s: the limit passes (7.5 s real) while we watch.
    expect(accept).to_have_class(re.compile(r"\boverdue\b"), timeout=30_000)
    expect(accept).to_contain_text("overdue by")
    assert page.evaluate("window.__still_this_page === true"), "the board reloaded"
    shot(page, "board-overdue")


def test_a_dispatch_form_without_its_csrf_token_dispatches_nothing(page, desk_server):
    case = open_case(desk_server)
    logged_in(page, "disp", "/board")
    page.goto(f"/board/cases/{case['id']}")  # the case's acts as a page of their own
    form = page.locator("#dispatch-form")
    form.locator("#dispatch-surveyor").select_option("sv2")
    form.locator("input[name='csrf']").evaluate("e => e.remove()")
    with page.expect_response(f"**/board/cases/{case['id']}/dispatch") as answer:
        form.get_by_role("button", name="Dispatch").click()
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("CSRF")
    after = api(desk_server, "GET", f"/v1/cases/{case['id']}")
    assert after["dispatches"] == [] and after["status"] == "reported"


def test_the_filters_survive_the_boards_own_refresh(page, desk_server):
    far, near = open_case(desk_server, zone="suburban"), open_case(desk_server)
    logged_in(page, "disp", "/board")
    page.locator("#board-zone").select_option("suburban")  # htmx swaps the rows in place
    rows = page.locator("#board-table")
    expect(rows.locator(f"tr[data-case-no='{far['case_no']}']")).to_be_visible()
    expect(rows.locator(f"tr[data-case-no='{near['case_no']}']")).to_have_count(0)
    updated = page.locator(".board-updated")
    before = updated.inner_text()
    expect(updated).not_to_have_text(before)  # refreshed by itself (every 5 s)
    expect(rows.locator(f"tr[data-case-no='{far['case_no']}']")).to_be_visible()
    expect(rows.locator(f"tr[data-case-no='{near['case_no']}']")).to_have_count(0)
    expect(page.locator("#board-zone")).to_have_value("suburban")


def test_redispatch_with_a_purpose_then_close_from_the_board(page, desk_server):
    case = dispatched(desk_server)
    logged_in(page, "disp", "/board")
    page.goto(f"/board/cases/{case['id']}")
    form = page.locator("#dispatch-form")
    expect(form.get_by_role("heading", name="Re-dispatch")).to_be_visible()
    form.locator("#dispatch-surveyor").select_option("sv2")
    form.locator("#dispatch-purpose").select_option("resurvey")
    form.get_by_role("button", name="Dispatch").click()
    expect(page.locator("#board-done")).to_contain_text("dispatched")
    row = page.locator(f"#board-table tr[data-case-no='{case['case_no']}']")
    expect(row).to_contain_text("sv2")

    page.goto(f"/board/cases/{case['id']}")
    expect(page.locator("#board-case .dispatches")).to_contain_text("Re-survey")
    page.locator("#close-form").get_by_role("button", name="Close the case").click()
    expect(page.locator("#closed-error")).to_be_visible()  # not approved: a reason is needed
    shot(page, "board-close-refused")
    page.locator("#close-reason").fill("The customer withdrew the claim.")
    page.locator("#close-form").get_by_role("button", name="Close the case").click()
    expect(page.locator("#board-done")).to_contain_text(f"Case {case['case_no']} closed")
    page.goto("/board")
    expect(page.locator(f"#board-table tr[data-case-no='{case['case_no']}']")).to_have_count(0)
