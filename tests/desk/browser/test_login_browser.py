"""In a real browser: each desk role logs in and lands on its first page, a surveyor is
refused, a form posted without its CSRF token is rejected, the language switches."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.desk.browser.conftest import PASSWORD, new_page, shot
from tests.desk.browser.steps import log_in, logged_in, path_pattern

FIRST_PAGE = {"disp": "/board", "rev": "/review", "admin": "/board"}


def test_the_login_page_is_where_a_browser_without_a_session_lands(page):
    page.goto("/board")
    expect(page).to_have_url(path_pattern("/login"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shot(page, "login")


@pytest.mark.parametrize("name", ["disp", "rev", "admin"])
def test_each_desk_role_logs_in_and_lands_on_its_first_page(page, name):
    logged_in(page, name, FIRST_PAGE[name])
    nav = page.get_by_role("navigation", name="main")
    expect(nav.get_by_role("link", name="Cases")).to_be_visible()
    expect(nav.get_by_role("link", name="Board")).to_have_count(0 if name == "rev" else 1)
    expect(nav.get_by_role("link", name="Review")).to_have_count(0 if name == "disp" else 1)
    if name == "admin":
        expect(nav.get_by_role("link", name="Admin")).to_be_visible()


def test_logging_in_needs_only_the_keyboard(page):
    page.goto("/login")
    expect(page.locator("#username")).to_be_focused()  # autofocus
    page.keyboard.type("disp")
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(path_pattern("/board"))
    page.keyboard.press("Tab")  # the first stop is the skip link, and it shows when focused
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Tab")  # and every control shows where the focus is
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused link shows no outline"


def test_a_surveyor_and_a_wrong_password_are_refused(page):
    log_in(page, "sv1", "any password at all")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    expect(page).to_have_url(path_pattern("/login"))
    shot(page, "login-refused")
    log_in(page, "disp", "not the password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    page.goto("/board")
    expect(page).to_have_url(path_pattern("/login"))  # no session was opened


def test_a_form_posted_without_its_csrf_token_is_rejected(page):
    logged_in(page, "disp", "/board")
    # A script's POST carries the session cookie but not the token: 403, still logged in.
    status = page.evaluate("fetch('/logout', {method: 'POST'}).then(r => r.status)")
    assert status == 403
    # The logout form with its hidden csrf input removed, submitted by the button.
    page.locator("form[action='/logout'] input[name='csrf']").evaluate("e => e.remove()")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("alert")).to_contain_text("CSRF")
    shot(page, "csrf-refused")
    page.goto("/board")
    expect(page).to_have_url(path_pattern("/board"))  # the session is still open
    page.get_by_role("button", name="Log out").click()  # with its token: logged out
    expect(page).to_have_url(path_pattern("/login"))
    page.goto("/board")
    expect(page).to_have_url(path_pattern("/login"))


def test_the_language_follows_the_browser_and_the_switch(browser, desk_server):
    page = new_page(browser, desk_server, locale="zh-CN")
    try:
        page.goto("/login")
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        logged_in(page, "disp", "/board")
        page.get_by_role("link", name="中文").click()
        expect(page).to_have_url(path_pattern("/board"))  # back on the page it was on
        expect(page.get_by_role("link", name="调度看板")).to_be_visible()
        expect(page.get_by_role("button", name="退出")).to_be_visible()
        shot(page, "board-zh")
    finally:
        page.context.close()
