"""In a real browser: find a case in the list, open its page (timings, map, gallery), open a
photo at screen size, then its original."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.desk.browser.conftest import shot
from tests.desk.browser.seed import surveyed
from tests.desk.browser.steps import images_loaded, logged_in


def test_find_a_case_and_open_a_photo_then_its_original(page, desk_server):
    case = surveyed(desk_server, photos=2)
    logged_in(page, "disp", "/board")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Cases").click()
    page.locator("#q-case_no").fill(case["case_no"])
    page.locator("#q-submit").click()
    found = page.locator(f"#case-list tr[data-case-id='{case['id']}']")
    expect(found).to_be_visible()
    shot(page, "cases")

    found.get_by_role("link", name=case["case_no"]).click()
    expect(page.locator("#case-title")).to_contain_text(case["case_no"])
    expect(page.locator("#case-timings")).to_be_visible()
    expect(page.locator("svg#case-map")).to_be_visible()
    expect(page.locator("#timeline tr[data-packet-id]")).not_to_have_count(0)
    thumbs = page.locator("#gallery li[data-sha256] a.thumb img")
    expect(thumbs).to_have_count(2)
    thumbs.first.scroll_into_view_if_needed()
    images_loaded(page, "#gallery a.thumb img")
    shot(page, "case")

    photo = page.locator("#gallery li[data-sha256]").first
    sha = photo.get_attribute("data-sha256")
    photo.locator("a.thumb").click()  # the screen-sized photo
    expect(page).to_have_url(re.compile(rf"/cases/{case['id']}/media/{sha}$"))
    screen = page.locator("#photo-original img")
    expect(screen).to_be_visible()
    images_loaded(page, "#photo-original img")
    shot(page, "case-photo")
    with page.expect_response(re.compile(rf"/v1/media/{sha}$")) as original:
        page.locator("#photo-original").click()  # the original, as the tablet sent it
    assert original.value.status == 200
    assert original.value.headers["content-type"].startswith("image/jpeg")
    page.go_back()
    expect(page.locator("#photo-back")).to_be_visible()
