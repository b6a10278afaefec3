"""Exclusive use of one tus upload across processes and machines, held by the database.

On PostgreSQL: a session-level advisory lock keyed by the upload id, taken with
`pg_try_advisory_lock` on a connection of its own and held (outside any transaction) for
the request. It is never waited for: a second request for the upload is refused at once
(423, as tus servers answer), and the lock dies with its holder, since PostgreSQL ends a
backend whose client went away (kill -9 included) and releases its locks, so a resume on
another server can go on at once. No row lock is held while bytes stream in, so no
transaction stays open and HEAD reads the committed offset meanwhile.

The lock connections come from an engine of their own (`lock_engine`), not the request
pool: PATCHes holding locks must never starve the sessions they themselves need.

On SQLite (one machine: the database is a local file) the flock of `media.tus` does it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from media.tus import UploadBusy, locked

# The advisory lock namespace (first key) of tus uploads: "tus" in ASCII.
LOCK_CLASS = 0x747573


# Uploads written at once by one process, at most; more wait for a connection.
MAX_HELD = 64


def lock_engine(engine: AsyncEngine) -> AsyncEngine | None:
    """The engine lock connections come from, beside `engine` (None on SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    return create_async_engine(
        engine.url, pool_size=4, max_overflow=MAX_HELD - 4, pool_pre_ping=True
    )


def lock_key(upload_id: str) -> int:
    """The upload id's first 32 bits as a signed int4 (ids are random hex)."""
    value = int(upload_id[:8], 16)
    return value - (1 << 32) if value >= 1 << 31 else value


@contextlib.asynccontextmanager
async def upload_lock(
    engine: AsyncEngine | None, uploads_dir: Path, upload_id: str
) -> AsyncIterator[None]:
    """Hold the upload for the block; UploadBusy if another request (anywhere) holds it.
    `engine` is the `lock_engine` (None: SQLite, a flock in `uploads_dir`)."""
    if engine is None:
        with locked(uploads_dir, upload_id):
            yield
        return
    key = {"c": LOCK_CLASS, "k": lock_key(upload_id)}
    async with engine.connect() as conn:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:c, :k)"), key)
        await conn.commit()  # the lock is the session's: no transaction stays open
        if not got:
            raise UploadBusy()
        try:
            yield
        finally:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), key)
                await conn.commit()
            except BaseException:
                # Not sure it was released: never hand this connection to anyone else.
                await conn.invalidate()
                raise
