"""The media side of a running server: its store, upload folder and thumbnail worker.

Started in the app's lifespan: it first clears what a crash may have left (stale temp
files, expired uploads), then runs the worker, which takes up every pending job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media.store import MediaStore, open_store
from media.thumbnails import ThumbnailWorker
from media.tus import sweep_expired
from sync.clock import Clock

logger = logging.getLogger("kancha.media")
STALE_TEMP_SECONDS = 24 * 3600


@dataclass
class MediaService:
    store: MediaStore
    uploads_dir: Path
    worker: ThumbnailWorker


def media_service(
    settings: Any, database: Any, clock: Clock, store: MediaStore | None = None
) -> MediaService:
    data = settings.data_path
    store = store or open_store(settings.resolved_media_url, data / "staging")
    worker = ThumbnailWorker(database, store, clock, poll_seconds=settings.thumbnail_poll_seconds)
    return MediaService(store=store, uploads_dir=data / "uploads", worker=worker)


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


async def sweep(service: MediaService, database: Any, clock: Clock) -> None:
    now = clock.now()
    remove_stale_temps(service.store.staging_dir, now.timestamp())
    async with database.session() as session:
        await sweep_expired(session, service.uploads_dir, now)
        await session.commit()


@contextlib.asynccontextmanager
async def running(service: MediaService, database: Any, clock: Clock) -> AsyncIterator[None]:
    """Sweep, then run the thumbnail worker until the app stops."""
    try:
        await sweep(service, database, clock)
    except Exception:  # a sweep failure must not keep the server from starting
        logger.exception("media sweep at start failed")
    task = asyncio.create_task(service.worker.run_forever(), name="thumbnail-worker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
