"""Real-browser fixtures: a live `kancha serve` per backend, Debian's chromium through
Playwright, users with passwords (the admin made by `kancha user add --password`, as a
newcomer does), and screenshots of every page.

One server per backend serves the whole browser suite (each test makes its own cases and
opens its own browser context), on the embedded default (only KANCHA_DATA_DIR) and on a
PostgreSQL database of its own. Its clock runs compressed (SPEED× from a known start and
anchor) so a timing turns overdue while a test watches; the tests compute the server's now
with the same ScaledClock. The browser is never downloaded: Playwright drives
/usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it when missing).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from cases.clock import ScaledClock
from cases.passwords import set_password
from cases.users import create_user
from server.db import Database
from server.settings import Settings
from tests.conftest import PG_ADMIN_URL, _pg_admin, run_blocking
from tests.factories import bearer
from tests.live import KANCHA, ServerProcess, clean_env

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "artifacts" / "screenshots"
BOARD_PNG = ROOT / "docs" / "board.png"
PASSWORD = "correct horse battery"
SPEED = 120.0  # server seconds per real second
ACCEPT_LIMIT = 900  # the accept timing's limit on this server: 900 s = 7.5 s real
# The admin is made with the CLI as the README tells a newcomer; these through the database.
USERS = {"disp": "dispatcher", "rev": "reviewer", "sv1": "surveyor", "sv2": "surveyor"}
VIEWPORT = {"width": 1366, "height": 768}  # the desk screen of the issue


@dataclass
class DeskServer:
    """A live server, its users' bearer headers (to seed data via the API) and its clock."""

    process: ServerProcess
    backend: str
    clock: ScaledClock
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.process.url


def _cli_admin(env: dict[str, str], home: Path) -> dict[str, str]:
    """`kancha user add admin --role admin --password`, the password typed on stdin."""
    done = subprocess.run(
        [*KANCHA, "user", "add", "admin", "--role", "admin", "--password"],
        input=f"{PASSWORD}\n",
        env=clean_env(**env),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return bearer(done.stdout.strip().splitlines()[-1])


async def _add_users(url: str, now: datetime) -> dict[str, dict[str, str]]:
    database = Database(url)
    tokens = {}
    try:
        async with database.session() as session:
            for name, role in USERS.items():
                tokens[name] = bearer(await create_user(session, name, role, now))
                if role != "surveyor":  # a surveyor has no desk password at all
                    await set_password(session, name, PASSWORD)
            await session.commit()
    finally:
        await database.dispose()
    return tokens


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def desk_server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[DeskServer]:
    backend = request.param
    home = tmp_path_factory.mktemp(f"desk-{backend}")
    start = datetime.now(UTC).replace(microsecond=0)
    env = {
        "KANCHA_DATA_DIR": str(home / "data"),
        "KANCHA_CLOCK_SPEED": str(SPEED),
        "KANCHA_CLOCK_START": start.isoformat(),
        "KANCHA_CLOCK_ANCHOR": start.isoformat(),
        "KANCHA_LIMITS": json.dumps({"accept": ACCEPT_LIMIT}),
        "KANCHA_DESK_SESSION_SECONDS": str(30 * 86400),  # the compressed clock runs fast
    }
    dropped = None
    if backend == "postgresql":
        if not PG_ADMIN_URL:
            pytest.skip("PostgreSQL browser tests need KANCHA_TEST_DATABASE_URL")
        name = f"kancha_desk_{uuid.uuid4().hex[:12]}"
        run_blocking(asyncio.run, _pg_admin(f'CREATE DATABASE "{name}"'))
        dropped = name
        env["KANCHA_DATABASE_URL"] = (
            make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        )
    process = ServerProcess(env, home)
    try:
        process.start()  # migrates the database first, like a newcomer's first `kancha serve`
        url = Settings(
            data_dir=env["KANCHA_DATA_DIR"], database_url=env.get("KANCHA_DATABASE_URL", "")
        ).resolved_database_url
        clock = ScaledClock(start, SPEED, start)
        tokens = run_blocking(asyncio.run, _add_users(url, clock.now()))
        tokens["admin"] = _cli_admin(env, home)
        yield DeskServer(process, backend, clock, tokens)
    finally:
        process.stop()
        if dropped:
            drop = f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)'
            run_blocking(asyncio.run, _pg_admin(drop))


@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs /usr/bin/chromium (.ci/run installs it with apt)")
        pytest.skip("browser tests need Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # bounded waits, never a timed assertion
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, server: DeskServer, locale: str = "en-GB"):
    """A fresh browser context (no cookies) on the server, asking for `locale`."""
    context = browser.new_context(
        base_url=server.url, locale=locale, viewport=VIEWPORT, accept_downloads=True
    )
    context.set_default_timeout(15_000)  # bounded waits for every action
    return context.new_page()


@pytest.fixture
def page(browser, desk_server):
    page = new_page(browser, desk_server)
    yield page
    page.context.close()


def shot(page, name: str) -> Path:
    """Screenshot of the page as a user sees it, to artifacts/screenshots/<name>.png; the
    board's also goes to docs/board.png, which the README shows. Every page shot is first
    checked for a horizontal scroll bar at the desk screen's 1366 px."""
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= VIEWPORT["width"], f"{name}: {wide} px wide, scrolls sideways at 1366 px"
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if name == "board":
        BOARD_PNG.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, BOARD_PNG)
    return path
