"""Database engine, per-request sessions and migrations.

A request's session is committed when its response starts with a status below 400 and
rolled back otherwise, so nothing is acknowledged before it is durable and handlers
never call `commit()`. On SQLite, requests that may write open their transaction with
`BEGIN IMMEDIATE`: writers queue on the lock instead of failing half-way with
"database is locked" when two of them race.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from litestar.di import NamedDependency
from litestar.types import Message, Scope
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server import sqlite_driver

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SESSION_SCOPE_KEY = "_kancha_db_session"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str, *, echo: bool = False, writer: bool = False) -> AsyncEngine:
    """An engine for `url`; on SQLite, `writer=True` makes the one-connection engine that
    all of a process's writes queue for (see Database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, echo=echo, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"timeout": 60}}
    if writer:
        options.update(pool_size=1, max_overflow=0, pool_timeout=600)
    if parsed.database and parsed.database != ":memory:" and not parsed.query:
        options["async_creator"] = sqlite_driver.creator(parsed.database, timeout=60)
    engine = create_async_engine(url, echo=echo, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL + synchronous=NORMAL survives any crash of the process (kill -9);
        # only a power cut could lose the last commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("kancha_one_read"):
            return  # one statement: SQLite's own implicit transaction is enough
        mode = "IMMEDIATE" if options.get("kancha_write") else "DEFERRED"
        driver = conn.connection.driver_connection
        if isinstance(driver, sqlite_driver.Connection):
            driver.defer_begin(f"BEGIN {mode}")  # sent with the transaction's first statement
            return
        # On the driver's own cursor: exec_driver_sql's statement machinery (events,
        # result set-up) was 3% of a push's CPU for a statement that returns nothing.
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(f"BEGIN {mode}")
        finally:
            cursor.close()

    return engine


class Database:
    """The engine and the two session factories a request may use.

    SQLite takes one writer at a time. Rather than let every writing request take its own
    connection and poll the file lock (sleeping in back-off while the lock is long free,
    which starves throughput and makes tail latency seconds long), a process's writes queue
    in order for a single writer connection; readers keep their own pool (WAL lets them
    read while a write is under way). Other processes still meet at the file lock.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._one_read = self.engine.execution_options(kancha_one_read=True)
        self._writer = make_engine(url, echo=echo, writer=True) if self.is_sqlite else None
        write_engine = (self._writer or self.engine).execution_options(kancha_write=True)
        self.write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)

    def session(self, *, write: bool = True) -> AsyncSession:
        return (self.write_sessions if write else self.read_sessions)()

    def one_read(self) -> AsyncConnection:
        """A reader's connection for a single statement (`async with`): no session, and on
        SQLite no explicit transaction around it."""
        return self._one_read.connect()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._writer is not None:
            await self._writer.dispose()


# -- per-request session: provided as a dependency, settled in before_send ----------------


def provide_session(database: NamedDependency[Database], scope: Scope) -> AsyncSession:
    session = scope.get(SESSION_SCOPE_KEY)  # type: ignore[call-overload]
    if session is None:
        session = database.session(write=scope.get("method", "GET") not in READ_METHODS)
        scope[SESSION_SCOPE_KEY] = session  # type: ignore[literal-required]
    return session


async def settle_session(message: Message, scope: Scope) -> None:
    """Commit on 1xx-3xx, roll back on errors, before the client hears anything."""
    session: AsyncSession | None = scope.get(SESSION_SCOPE_KEY)  # type: ignore[call-overload]
    if session is None:
        return
    if message["type"] == "http.response.start":
        try:
            if message["status"] < 400:
                await session.commit()
            else:
                await session.rollback()
        except BaseException:
            await _close(scope, session)
            raise
    if message["type"] == "http.response.start" and scope.get("method") == "HEAD":
        await _close(scope, session)
    elif message["type"] == "http.response.body" and not message.get("more_body", False):
        await _close(scope, session)


async def close_session_after_exception(exc: Exception, scope: Scope) -> None:
    session: AsyncSession | None = scope.get(SESSION_SCOPE_KEY)  # type: ignore[call-overload]
    if session is not None:
        await _close(scope, session)


async def _close(scope: Scope, session: AsyncSession) -> None:
    scope.pop(SESSION_SCOPE_KEY, None)  # type: ignore[misc]
    await session.close()


# -- start-up checks ------------------------------------------------------------------------

# The async driver each supported database needs.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


def url_problem(url: str) -> str | None:
    """What is wrong with a database URL before connecting, or None."""
    try:
        parsed = make_url(url)
    except Exception:  # ArgumentError, or a ValueError for a bad port
        return "not a database URL (e.g. postgresql+asyncpg://user@host/db)"
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in ASYNC_DRIVERS:
        return f"{backend!r} is not supported: use sqlite+aiosqlite:// or postgresql+asyncpg://"
    if driver != ASYNC_DRIVERS[backend]:
        return f"needs the async driver: write {backend}+{ASYNC_DRIVERS[backend]}://..."
    return None


def failure_reason(exc: BaseException) -> str:
    """The driver's own words for why connecting or migrating failed, on one line."""
    root = getattr(exc, "orig", None) or exc
    text = str(root).strip() or type(root).__name__
    return text.splitlines()[0]


def shown_url(url: str) -> str:
    """A database URL as a person can check it, without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


# -- migrations ---------------------------------------------------------------------------


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations over an engine from inside a running event loop."""

    def _upgrade(sync_conn: Any) -> None:
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.connect() as conn:
        await conn.run_sync(_upgrade)
        await conn.commit()


def migrate_url(url: str, revision: str = "head") -> None:
    """Apply migrations to the database at `url` (creating a SQLite file if needed)."""

    async def _run() -> None:
        engine = make_engine(url)
        try:
            await migrate(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(_run())
