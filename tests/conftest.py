"""Shared fixtures: a database per test (SQLite and PostgreSQL), the app, a client, tokens.

PostgreSQL runs when KANCHA_TEST_DATABASE_URL is set (CI sets it; with CI=true a missing
URL fails the run rather than skipping). Each run creates its own database from that URL,
migrates it once and truncates it before each test; SQLite tests copy a migrated file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from cases.clock import FakeClock
from cases.models import Base
from server.app import create_app
from server.db import Database, migrate_url
from server.settings import Settings
from tests.factories import Tokens, make_tokens


def run_blocking(fn, *args):
    """Run setup that owns its event loop (migrations) from anywhere, even inside a loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


pytest_plugins = ["tests.live"]  # live server fixtures: server_process, live_server

PG_ADMIN_URL = os.environ.get("KANCHA_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_ADMIN_URL:
        raise pytest.UsageError("CI must set KANCHA_TEST_DATABASE_URL: PostgreSQL tests are on")


# -- databases ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kancha.db"
    run_blocking(migrate_url, f"sqlite+aiosqlite:///{path}")
    return path


async def _pg_admin(sql: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A fresh, migrated PostgreSQL database for this test run, dropped at the end."""
    if not PG_ADMIN_URL:
        pytest.skip("PostgreSQL tests need KANCHA_TEST_DATABASE_URL")
    name = f"kancha_test_{uuid.uuid4().hex[:12]}"
    try:
        run_blocking(asyncio.run, _pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # fail loudly: a configured PostgreSQL must be reachable
        pytest.fail(f"PostgreSQL at KANCHA_TEST_DATABASE_URL is unreachable: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    run_blocking(migrate_url, url)
    yield url
    run_blocking(asyncio.run, _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    # The counters table keeps its rows (seeded by the migrations); only their values reset.
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "counters")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            await conn.execute(text("UPDATE counters SET value = 0"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "kancha.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    await _truncate(url)
    return url


# -- the app --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), database_url=database_url)


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Litestar:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The test's own handle on the app's database, for setup and for checking what was
    stored (the app's engine lives on the test client's event loop, not the test's)."""
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def tokens(db: Database, clock: FakeClock) -> Tokens:
    """Users of every role (surveyors sv1 and sv2) and their bearer headers."""
    return await make_tokens(db, clock.now())
