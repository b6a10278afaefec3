"""aiosqlite with one thread hop per statement instead of four.

aiosqlite runs every call on the connection's own thread: making a cursor, executing,
fetching and closing it are four hand-offs (a queue put, the thread waking, the event loop
woken back) for one statement, and each hand-off costs more CPU than a small SELECT. Here a
statement is executed and its first rows (up to PREFETCH, so that a streamed result stays
streamed) fetched in one hand-off; cursors are made and
closed where they are used (cheap calls that do no I/O: sqlite3 is built serialized,
`sqlite3.threadsafety == 3`, so the connection may be touched from either thread); a
transaction's BEGIN goes with its first statement (`defer_begin`), and a commit or
rollback of a transaction that never began does not hand off at all.

SQLAlchemy's aiosqlite dialect is used unchanged, given these connections through
`async_creator` (server/db.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import aiosqlite

PREFETCH = 1000  # rows brought back with the statement; the rest are fetched as asked


class Cursor(aiosqlite.Cursor):
    """A cursor whose `execute` brings the first rows back with it."""

    def __init__(self, conn: aiosqlite.Connection, cursor: sqlite3.Cursor) -> None:
        super().__init__(conn, cursor)
        self._rows: list[Any] = []
        self._more = True  # rows may remain on the sqlite3 cursor

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        begin = self._conn.take_begin()  # type: ignore[attr-defined]
        rows = await self._execute(_execute_fetching, self._cursor, begin, sql, parameters or ())
        self._rows = rows or []
        self._more = rows is not None and len(rows) == PREFETCH
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        begin = self._conn.take_begin()  # type: ignore[attr-defined]
        await self._execute(_executemany, self._cursor, begin, sql, parameters)
        self._rows, self._more = [], False
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        if self._more:
            self._more = False
            rows += await super().fetchall()
        return rows

    async def fetchone(self) -> Any:
        if not self._rows and self._more:
            return await super().fetchone()
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = size or self._cursor.arraysize
        if len(self._rows) < n and self._more:
            more = await super().fetchmany(n - len(self._rows))
            self._more = bool(more)
            self._rows += more
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows

    async def close(self) -> None:
        self._rows, self._more = [], False
        self._cursor.close()


def _execute_fetching(
    cursor: sqlite3.Cursor, begin: str | None, sql: str, parameters: Any
) -> list[Any] | None:
    if begin is not None:
        cursor.execute(begin)
    cursor.execute(sql, parameters)
    return cursor.fetchmany(PREFETCH) if cursor.description else None


def _executemany(cursor: sqlite3.Cursor, begin: str | None, sql: str, parameters: Any) -> None:
    if begin is not None:
        cursor.execute(begin)
    cursor.executemany(sql, parameters)


class _Opened:
    """What `Connection.cursor()` returns: awaitable, and an async context manager."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor

    def __await__(self):
        return self.__aenter__().__await__()

    async def __aenter__(self) -> Cursor:
        return self.cursor

    async def __aexit__(self, *_: object) -> None:
        await self.cursor.close()


class Connection(aiosqlite.Connection):
    _begin: str | None = None  # a BEGIN not yet sent
    _begun = False  # a BEGIN was handed off since the last commit or rollback

    def defer_begin(self, statement: str) -> None:
        """Run `statement` (a BEGIN) just before the next statement, in its hand-off."""
        self._begin = statement

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        if begin is not None:
            self._begun = True
        return begin

    def cursor(self) -> _Opened:  # type: ignore[override]
        return _Opened(Cursor(self, self._conn.cursor()))

    async def commit(self) -> None:
        if self._open():
            await super().commit()

    async def rollback(self) -> None:
        if self._open():
            await super().rollback()

    def _open(self) -> bool:
        """Whether a commit or rollback has anything to end. Once a BEGIN has been handed
        off it always goes to the thread, queued behind that BEGIN: a statement cancelled
        while waiting (its BEGIN not yet run) must still be rolled back after it runs."""
        begun, self._begun, self._begin = self._begun, False, None
        return begun or self._conn.in_transaction


def creator(path: str, **connect_args: Any) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy: a connection to the SQLite file at `path`."""

    async def connect() -> Connection:
        connector = partial(sqlite3.connect, path, check_same_thread=False, **connect_args)
        connection = Connection(connector, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own
        return await connection

    return connect
