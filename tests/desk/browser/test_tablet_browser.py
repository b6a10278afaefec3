"""In a real browser at a tablet's width (768 px, portrait): every desk page fits without a
sideways scroll bar (wide tables scroll inside their own box)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.desk.browser.conftest import SHOTS
from tests.desk.browser.seed import surveyed
from tests.desk.browser.steps import logged_in

TABLET = {"width": 768, "height": 1024}
PAGES = ["/board", "/cases", "/review", "/reports", "/admin", "/admin/devices"]


def test_every_page_fits_a_tablet(browser, desk_server):
    case = surveyed(desk_server)
    context = browser.new_context(base_url=desk_server.url, locale="en-GB", viewport=TABLET)
    page = context.new_page()
    try:
        logged_in(page, "admin", "/board")
        wide = {}
        for path in [*PAGES, f"/cases/{case['id']}", f"/review/{case['id']}"]:
            page.goto(path)
            expect(page.locator("h1").first).to_be_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > TABLET["width"]:
                wide[path] = width
                SHOTS.mkdir(parents=True, exist_ok=True)
                name = path.strip("/").replace("/", "-")[:40]
                page.screenshot(path=str(SHOTS / f"tablet-{name}.png"), full_page=True)
        assert not wide, f"pages wider than a tablet's 768 px: {wide}"
    finally:
        context.close()
