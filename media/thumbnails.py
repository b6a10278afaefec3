"""Thumbnails, made off the request path by a worker that works through a job table.

A job row is written in the same transaction as its object's row, so a crash or restart
loses no job: the worker starts by taking up every pending one. Rendering is idempotent
(same bytes in, same key out), so two workers racing on one job do no harm; jobs are
leased (cases/jobs.py), so many worker processes share the table and a dead one's jobs
are taken up once its lease runs out. JPEGs are
decoded in draft mode, at the smallest scale that still covers the screen size, so a
12-megapixel photo is never fully decoded; EXIF orientation is applied before resizing.
The photo's perceptual hash (media.phash) is taken from the same decoded image (its
small thumbnail, before encoding) and indexed for near-duplicates (media.near_duplicates)
once the thumbnails are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import anyio.to_thread
from PIL import Image, ImageOps

from cases.clock import Clock, SystemClock
from cases.jobs import claim, new_worker_id, settle
from media.images import MAX_PIXELS, DecompressionBomb
from media.models import ThumbnailJob
from media.near_duplicates import add as index_phash
from media.phash import phash
from media.store import MediaStore, Variant, new_temp, object_key, remove_quietly

logger = logging.getLogger("kancha.thumbnails")

SIZES: dict[Variant, int] = {"small": 320, "screen": 1600}
QUALITY = 82
MAX_ATTEMPTS = 3
JOBS = ThumbnailJob.__table__
# Jobs claimed at once: few, so that waiting for lulls in uploads (up to MAX_DEFER_SECONDS
# each) stays well inside a lease, and other workers take the rest meanwhile.
BATCH = 4
MAX_DEFER_SECONDS = 5.0
QUIET_SECONDS = 0.3
DEFER_STEP = 0.05


def _fit(width: int, height: int, box: int) -> tuple[int, int]:
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass(frozen=True)
class Rendered:
    thumbnails: dict[Variant, bytes]  # JPEG bytes of each size
    decoded_size: tuple[int, int]  # pixels actually decoded (draft mode shrinks JPEGs)
    phash: int  # of the upright image, as shrunk to the small size (media.phash)


def render(path: Path) -> Rendered:
    """Both thumbnails of the image at `path`."""
    with Image.open(path) as image:
        if image.width * image.height > MAX_PIXELS:
            raise DecompressionBomb(f"{image.width}x{image.height} pixels")
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", _fit(image.width, image.height, SIZES["screen"]))
        image.load()
        decoded = image.size
        upright = ImageOps.exif_transpose(image)
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        out: dict[Variant, bytes] = {}
        current = upright
        for variant in ("screen", "small"):  # big first, then shrink the big one
            current = current.copy()
            current.thumbnail((SIZES[variant], SIZES[variant]), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            current.save(buffer, "JPEG", quality=QUALITY, optimize=True)
            out[variant] = buffer.getvalue()
        # From the small one (320 px): the same picture for the hash, a hundredth the pixels.
        return Rendered(thumbnails=out, decoded_size=decoded, phash=phash(current))


class ThumbnailWorker:
    """Takes pending jobs from the table, renders, stores, marks them done."""

    def __init__(
        self,
        database,
        store: MediaStore,
        clock: Clock,
        poll_seconds: float = 1.0,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        lease_clock: Clock | None = None,
    ) -> None:
        self.database = database
        self.store = store
        self.clock = clock
        self.poll_seconds = poll_seconds
        # Jobs are leased to this worker (cases/jobs.py): many processes share the table.
        self.worker_id = worker_id or new_worker_id()
        self.lease = timedelta(seconds=lease_seconds)
        self.lease_clock = lease_clock or SystemClock()
        self._wake = asyncio.Event()
        # Bodies streaming in right now, and when the last one ended: rendering waits for a
        # lull (up to MAX_DEFER_SECONDS per job) so thumbnails do not slow uploads down.
        self.uploads_in_flight = 0
        self._last_upload = 0.0

    def wake(self) -> None:
        self._wake.set()

    @contextlib.contextmanager
    def upload(self) -> Iterator[None]:
        """Mark a request body streaming in (the worker defers to it)."""
        self.uploads_in_flight += 1
        try:
            yield
        finally:
            self.uploads_in_flight -= 1
            self._last_upload = time.monotonic()

    async def _quiet(self) -> None:
        """Wait for a lull in uploads (a render started between two uploads would slow the
        second), but never longer than MAX_DEFER_SECONDS: thumbnails are not starved."""
        for _ in range(int(MAX_DEFER_SECONDS / DEFER_STEP)):
            lull = time.monotonic() - self._last_upload
            if self.uploads_in_flight == 0 and lull >= QUIET_SECONDS:
                return
            await asyncio.sleep(DEFER_STEP)

    async def run_forever(self) -> None:
        while True:
            try:
                while await self.run_pending():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the worker
                logger.exception("thumbnail worker pass failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that lands as its timeout fires, and the app's shutdown, which
            # cancels this task and waits for it, then waited for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def run_pending(self) -> int:
        """Claim (up to BATCH) pending jobs and do them; the number of jobs claimed."""
        await self._quiet()  # before the lease starts to run
        async with self.database.session() as session:
            taken = await claim(
                session,
                JOBS,
                key="sha256",
                order=[JOBS.c.created_at, JOBS.c.sha256],
                worker_id=self.worker_id,
                now=self.lease_clock.now(),
                lease=self.lease,
                limit=BATCH,
                max_attempts=MAX_ATTEMPTS,
            )
            await session.commit()
        for sha256, attempts in taken:
            await self._quiet()
            await self._run_one(sha256, attempts)
        return len(taken)

    async def _run_one(self, sha256: str, attempts: int) -> None:
        """Rendering is idempotent, so a job whose lease ran out while it rendered and that
        another worker took is at worst rendered twice to the same keys, marked done once."""
        try:
            await self.make(sha256)
        except Exception as exc:
            logger.warning("thumbnails of %s failed: %s", sha256, exc)
            failed = attempts + 1 >= MAX_ATTEMPTS
            await self._settle(
                sha256,
                status="failed" if failed else "pending",
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            return
        if await self._settle(sha256, status="done", error=None):
            logger.info("thumbnails of %s done by %s", sha256, self.worker_id)

    async def make(self, sha256: str) -> None:
        """Render and store both thumbnails of one stored object."""
        original = object_key(sha256)
        local = self.store.local_path(original)
        temp = None
        if local is None:
            temp = new_temp(self.store.staging_dir, ".thumb-src")
            await self.store.fetch(original, temp)
            local = temp
        try:
            rendered = await anyio.to_thread.run_sync(render, local)
        finally:
            remove_quietly(temp)
        for variant, data in rendered.thumbnails.items():
            await self.store.put_bytes(object_key(sha256, variant), data, "image/jpeg")
        async with self.database.session() as session:
            await index_phash(session, sha256, rendered.phash)
            await session.commit()

    async def _settle(self, sha256: str, *, status: str, error: str | None) -> bool:
        async with self.database.session() as session:
            settled = await settle(
                session,
                JOBS,
                key="sha256",
                value=sha256,
                worker_id=self.worker_id,
                status=status,
                error=error,
                finished_at=self.clock.now() if status != "pending" else None,
            )
            await session.commit()
        return settled
