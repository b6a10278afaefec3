"""Completing a tus upload: the last byte lands it like a PUT; what a crash left is finished later.

The part file stays until its bytes are in the store, so a completion that fails for any
reason but a refusal of the bytes keeps the offset: `CompletionFailed` (503) says so, and a
HEAD (`recover`) or a PATCH at the end finishes it once the cause is gone. A refusal of the
bytes (415, 422) removes the part: nothing of it is kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import anyio.to_thread
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from cases.refusal import Refusal, Unavailable
from media.ingest import Received, accept, describe, record
from media.models import TusUpload
from media.store import MediaStore, new_temp, object_key, remove_quietly
from media.tus import WRITE_BATCH, UploadBusy, locked, part_path

logger = logging.getLogger("kancha.uploads")
RETRY_AFTER_SECONDS = 10


class CompletionFailed(Unavailable):
    """All bytes are in but storing them failed (not a refusal of them): retry, offset kept."""

    def __init__(self, upload: TusUpload, cause: BaseException) -> None:
        # The cause without paths or internals (those are in the log).
        reason = (
            cause.strerror
            if isinstance(cause, OSError) and cause.strerror
            else type(cause).__name__
        )
        super().__init__(
            "upload",
            f"all {upload.length} bytes are kept, but storing them failed ({reason}); "
            "HEAD again to finish",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def _failed(upload: TusUpload, cause: BaseException) -> CompletionFailed:
    logger.error("completing upload %s failed", upload.id, exc_info=cause)
    return CompletionFailed(upload, cause)


@contextmanager
def _storing(upload: TusUpload) -> Iterator[None]:
    """Any failure but a refusal of the bytes (or of the request) as CompletionFailed."""
    try:
        yield
    except CompletionFailed:
        raise
    except Unavailable as exc:  # the store, not the bytes
        raise _failed(upload, exc) from exc
    except Refusal:
        raise
    except Exception as exc:  # the disk, the database: the bytes are kept
        raise _failed(upload, exc) from exc


def _hash_file(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(WRITE_BATCH):
            hasher.update(block)
            size += len(block)
    return hasher.hexdigest(), size


async def finalize(
    session: AsyncSession,
    upload: TusUpload,
    uploads_dir: Path,
    store: MediaStore,
    *,
    now: datetime,
    exif_utc_offset_minutes: int,
    hashed: str | None = None,
) -> bool:
    """Land a complete upload exactly like a PUT: a refusal of the bytes as raised (the part
    file gone), any other failure as CompletionFailed (the part kept). True if new.

    `hashed`: the part's SHA-256 where the PATCH that just wrote all of it hashed it as it
    arrived (a full part cannot change since: any byte more is refused and cut off again);
    otherwise (PATCHes in pieces, a recovery after a crash) the part is read and hashed."""
    with locked(uploads_dir, upload.id), _storing(upload):
        path = part_path(uploads_dir, upload.id)
        if path.exists():
            if hashed is not None:
                sha256, size = hashed, path.stat().st_size
            else:
                sha256, size = await anyio.to_thread.run_sync(_hash_file, path)
            if size != upload.length:
                return False
            # The store consumes a second name of the part; the part itself goes only once
            # its bytes are stored (or refused), so any other failure leaves the offset whole.
            staged = await anyio.to_thread.run_sync(_second_name, path, store.staging_dir)
            try:
                facts = await accept(
                    Received(staged, sha256, size), upload.sha256, store, exif_utc_offset_minutes
                )
            except Unavailable:
                raise
            except Refusal:
                remove_quietly(path)
                raise
            remove_quietly(path)
        elif await store.exists(object_key(upload.sha256)):
            # The part was moved into the store but the row never committed (a crash between).
            temp = new_temp(store.staging_dir)
            try:
                await store.fetch(object_key(upload.sha256), temp)
                size = temp.stat().st_size
                facts = await describe(temp, exif_utc_offset_minutes)
            finally:
                remove_quietly(temp)
        else:
            return False
        created = await record(session, upload.sha256, size, facts, now)
        await session.execute(
            update(TusUpload).where(TusUpload.id == upload.id).values(completed_at=now)
        )
        upload.completed_at = now
        return created


def _second_name(path: Path, directory: Path) -> Path:
    """A hard link to `path` in `directory` (a copy if the two are on other filesystems)."""
    temp = new_temp(directory, ".part")
    try:
        temp.unlink()
        os.link(path, temp)
    except OSError:
        try:
            shutil.copyfile(path, temp)
        except BaseException:
            remove_quietly(temp)
            raise
    return temp


def needs_finalizing(upload: TusUpload, uploads_dir: Path) -> bool:
    """A full part file (or a moved one) whose completion never committed."""
    if upload.completed_at is not None:
        return False
    path = part_path(uploads_dir, upload.id)
    try:
        return path.stat().st_size == upload.length
    except FileNotFoundError:
        return True  # maybe moved into the store: finalize() checks


async def recover(
    upload: TusUpload,
    open_session: Callable[[], AsyncSession],
    uploads_dir: Path,
    store: MediaStore,
    *,
    now: Callable[[], datetime],
    exif_utc_offset_minutes: int,
) -> None:
    """Complete a full upload whose completion never committed (a crash, a failed store).

    It commits in a session of its own (`open_session`, a writing one), since the asking
    request's may only read; `upload` is then marked complete without being written again.
    Busy means the request holding the upload is completing it: nothing to do here.
    """
    try:
        with _storing(upload):
            async with open_session() as session:
                fresh = await session.get(TusUpload, upload.id)
                if fresh is None or fresh.completed_at is not None:
                    return
                await finalize(
                    session,
                    fresh,
                    uploads_dir,
                    store,
                    now=now(),
                    exif_utc_offset_minutes=exif_utc_offset_minutes,
                )
                await session.commit()
                # Not an attribute change: the request's own (read) session must not write it.
                set_committed_value(upload, "completed_at", fresh.completed_at)
    except UploadBusy:
        return
