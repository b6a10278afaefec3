"""The media side of a running server: its store, upload folder and thumbnail worker.

Started in the app's lifespan: a sweeper clears what a crash may have left (stale temp
files) and expired uploads, at start and hourly; the worker takes up every pending job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cases.clock import Clock
from media.store import MediaStore, S3Store, open_store
from media.thumbnails import ThumbnailWorker
from media.tus import sweep_expired
from media.tus_lock import lock_engine

logger = logging.getLogger("kancha.media")
STALE_TEMP_SECONDS = 24 * 3600
SWEEP_SECONDS = 3600


@dataclass
class MediaRuntime:
    """What lives as long as the app: the store, the uploads folder, the thumbnail worker."""

    store: MediaStore
    uploads_dir: Path
    worker: ThumbnailWorker
    # Where tus uploads on S3 take their locks (`media.tus_lock`); None on SQLite.
    locks: AsyncEngine | None = None


def media_runtime(
    settings: Any,
    database: Any,
    clock: Clock,
    store: MediaStore | None = None,
    *,
    worker_id: str | None = None,
) -> MediaRuntime:
    data = settings.data_path
    store = store or open_store(settings.resolved_media_url, data / "staging")
    worker = ThumbnailWorker(
        database,
        store,
        clock,
        poll_seconds=settings.thumbnail_poll_seconds,
        worker_id=worker_id,
        lease_seconds=settings.job_lease_seconds,
    )
    locks = lock_engine(database.engine) if isinstance(store, S3Store) else None
    return MediaRuntime(store=store, uploads_dir=data / "uploads", worker=worker, locks=locks)


def remove_stale_temps(directory: Path, now_ts: float) -> int:
    """Temp files a crash left behind (older than a day: younger ones may be in use)."""
    removed = 0
    if not directory.is_dir():
        return 0
    for path in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and now_ts - path.stat().st_mtime > STALE_TEMP_SECONDS:
                path.unlink()
                removed += 1
    return removed


async def sweep(runtime: MediaRuntime, database: Any, clock: Clock) -> None:
    now = clock.now()
    remove_stale_temps(runtime.store.staging_dir, now.timestamp())
    async with database.session() as session:
        await sweep_expired(session, runtime.uploads_dir, now, runtime.store)
        await session.commit()


async def sweep_forever(runtime: MediaRuntime, database: Any, clock: Clock) -> None:
    """Sweep now, then every SWEEP_SECONDS; a failed sweep is logged and tried again."""
    while True:
        try:
            await sweep(runtime, database, clock)
        except Exception:  # must not keep the server from starting or running
            logger.exception("media sweep failed")
        await asyncio.sleep(SWEEP_SECONDS)


@contextlib.asynccontextmanager
async def running(
    runtime: MediaRuntime, database: Any, clock: Clock, *, sweeper: bool = True, jobs: bool = True
) -> AsyncIterator[None]:
    """Run the sweeper and the thumbnail worker (either may be left out) until the app stops."""
    tasks = []
    if sweeper:
        sweeping = sweep_forever(runtime, database, clock)
        tasks.append(asyncio.create_task(sweeping, name="media-sweeper"))
    if jobs:
        tasks.append(asyncio.create_task(runtime.worker.run_forever(), name="thumbnail-worker"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if runtime.locks is not None:
            await runtime.locks.dispose()
