"""What a desk user does in the browser, step by step (used by every browser test)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.desk.browser.conftest import PASSWORD


def log_in(page: Page, name: str, password: str = PASSWORD, path: str = "/login") -> None:
    """Fill the real login form and press the button, as a person would."""
    page.goto(path)
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def logged_in(page: Page, name: str, path: str) -> None:
    """Log in and wait until the browser is at `path`, the page showing the user's name."""
    log_in(page, name)
    expect(page).to_have_url(path_pattern(path))
    expect(page.locator("header .who strong")).to_have_text(name)


def path_pattern(path: str) -> re.Pattern[str]:
    """The page's URL is this path (any query)."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$")


EVERY_IMAGE_LOADED = (
    "sel => { const all = [...document.querySelectorAll(sel)];"
    " return all.length > 0 && all.every(i => i.complete && i.naturalWidth > 0); }"
)


def images_loaded(page: Page, selector: str) -> None:
    """Wait (bounded) until every image the selector finds has loaded, with real pixels."""
    page.wait_for_function(EVERY_IMAGE_LOADED, arg=selector)
