"""In a real browser, every desk page as the admin (who may open them all): in English on
the desk screen and in Chinese on a tablet (768 px, portrait), no page scrolls sideways
(wide tables scroll inside their own box) and none shows a label's key instead of its words
(a key missing from the locale modules shows as `area.key`)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.desk.browser.conftest import PASSWORD, SHOTS, VIEWPORT
from tests.desk.browser.seed import surveyed
from tests.desk.browser.steps import path_pattern

AREAS = "app|nav|lang|login|error|common|role|time|board|cases|case|review|reports|admin"
AREAS += "|state|zone|category|flag|mark|purpose|timing|source|chart|map"
KEY = re.compile(rf"\b(?:{AREAS})\.[a-z_]+(?:\.[a-z_]+)*\b")
PAGES = ["/board", "/cases", "/review", "/reports", "/admin", "/admin/devices"]
TABLET = {"width": 768, "height": 1024}


def test_the_key_pattern_finds_a_missing_label():
    text = "State state.estimate_submitted · sla-surveyor-2026.csv · 1.5 km · board.done.closed"
    assert KEY.findall(text) == ["state.estimate_submitted", "board.done.closed"]


@pytest.mark.parametrize(
    ("locale", "viewport"), [("en-GB", VIEWPORT), ("zh-CN", TABLET)], ids=["en-desk", "zh-tablet"]
)
def test_every_page_fits_and_shows_words(browser, desk_server, locale, viewport):
    case = surveyed(desk_server)
    context = browser.new_context(base_url=desk_server.url, locale=locale, viewport=viewport)
    page = context.new_page()
    try:
        page.goto("/login")  # by ids: the labels are in the page's language
        page.locator("#username").fill("admin")
        page.locator("#password").fill(PASSWORD)
        page.locator("#password").press("Enter")
        expect(page).to_have_url(path_pattern("/board"))
        wide, keys = {}, {}
        for path in [*PAGES, f"/cases/{case['id']}", f"/review/{case['id']}"]:
            page.goto(path)
            expect(page.locator("h1").first).to_be_visible()
            found = sorted(set(KEY.findall(page.locator("body").inner_text())))
            if found:
                keys[path] = found
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > viewport["width"]:
                wide[path] = width
                SHOTS.mkdir(parents=True, exist_ok=True)
                name = f"wide-{locale}-{path.strip('/').replace('/', '-')[:40]}.png"
                page.screenshot(path=str(SHOTS / name), full_page=True)
        assert not keys, f"label keys shown instead of words ({locale}): {keys}"
        assert not wide, f"pages wider than {viewport['width']} px ({locale}): {wide}"
    finally:
        context.close()
