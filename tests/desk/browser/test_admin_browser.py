"""In a real browser, the admin: add a dispatcher with a password (the tablet token shown
once), who then logs in on a browser of their own and is sent back to the login page by
their board's own refresh once the admin revokes them; the devices and their tablets."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.desk.browser.conftest import PASSWORD, new_page, shot
from tests.desk.browser.seed import Tablet, dispatched
from tests.desk.browser.steps import logged_in, path_pattern
from tests.factories import new_id


def test_add_a_dispatcher_who_then_logs_in_and_see_the_devices(page, browser, desk_server):
    Tablet(desk_server).push(dispatched(desk_server)["id"], "accepted")  # a device to list
    name = f"wang{new_id()[:6]}"
    logged_in(page, "admin", "/board")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Admin").click()
    expect(page.locator("#users tr[data-user='disp']")).to_be_visible()
    page.locator("#add-name").fill(name)
    page.locator("#add-role").select_option("dispatcher")
    page.locator("#add-password").fill(PASSWORD)
    page.locator("#add-submit").click()
    expect(page.locator("output#token")).to_have_text(re.compile(r"^kt_\S{20,}$"))
    shot(page, "admin-token")
    page.locator("#token-done").click()
    expect(page.locator(f"#users tr[data-user='{name}']")).to_contain_text("dispatcher")
    shot(page, "admin")
    page.locator("#admin-devices").click()
    expect(page.locator("#devices tr[data-device]")).not_to_have_count(0)
    shot(page, "admin-devices")

    theirs = new_page(browser, desk_server)
    try:
        logged_in(theirs, name, "/board")
        # Revoked by the admin, their open board sends them to log in at its next refresh.
        page.locator("#admin-users").click()
        page.locator(f"#users tr[data-user='{name}'] a.edit").click()
        page.locator("#revoke-submit").click()
        expect(page.locator("#saved")).to_have_text("Revoked.")
        expect(theirs).to_have_url(path_pattern("/login"))
        shot(page, "admin-user")
    finally:
        theirs.context.close()
