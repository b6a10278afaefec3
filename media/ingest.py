"""Taking media in: stream to a staged temp file while hashing, check it, store it, record it.

The same steps serve `PUT /v1/media/{sha256}` and a finished tus upload. Order matters for
crashes: the bytes are fsynced and stored under their key before the `MediaObject` row is
inserted, and the row commits with its thumbnail job, so a row always means stored bytes.
The fsync of the spooled bytes runs while the file is checked (both wait on other things
than the interpreter: the disk, and Pillow's C code), not one after the other.
Anything refused is deleted before its `Refusal` is raised: nothing of it is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cases.refusal import Refusal
from cases.sql import insert
from media.images import HEIC, HEIF, HEIF_DECODER, PDF, MediaFacts
from media.images import describe as describe_file
from media.models import MediaObject, ThumbnailJob
from media.spool import Spool
from media.store import (
    SHA256_HEX,
    MediaStore,
    fsync_file,
    new_temp,
    object_key,
    remove_quietly,
)


def check_sha256(sha256: str) -> str:
    if not SHA256_HEX.fullmatch(sha256):
        raise Refusal("sha256", "expected 64 lowercase hex digits")
    return sha256


def too_large(max_bytes: int) -> Refusal:
    return Refusal("body", f"larger than the limit of {max_bytes} bytes", status=413)


@dataclass(frozen=True)
class Received:
    path: Path
    sha256: str
    size: int


def _finish(f: BinaryIO) -> None:
    f.flush()
    f.close()


async def receive(chunks: AsyncIterable[bytes], staging_dir: Path, max_bytes: int) -> Received:
    """Spool a body to a temp file, hashing as it goes: one batch is hashed and written in
    a thread while the next arrives (`media.spool`). Not fsynced yet: `accept` does that,
    beside the check of the file."""
    path = new_temp(staging_dir, ".part")
    hasher = hashlib.sha256()
    size = 0
    f = open(path, "wb")  # noqa: ASYNC230 - writes go through a worker thread below
    spool = Spool(f, hasher)
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            await spool.add(chunk)
        await spool.drain()
        await anyio.to_thread.run_sync(_finish, f)
    except BaseException:
        await spool.settle()
        f.close()
        remove_quietly(path)
        raise
    return Received(path=path, sha256=hasher.hexdigest(), size=size)


async def discard(chunks: AsyncIterable[bytes], max_bytes: int) -> int:
    """Read a body through and drop it (no hashing, no disk): a client that sends the body
    of something already held then hears the answer instead of a reset connection."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
    return size


async def describe(path: Path, exif_utc_offset_minutes: int) -> MediaFacts:
    """The file's facts, or a refusal (415 not media, 422 truncated, corrupt or a bomb)."""
    return await anyio.to_thread.run_sync(
        lambda: describe_file(path, exif_utc_offset_minutes=exif_utc_offset_minutes)
    )


async def accept(
    received: Received, expected_sha256: str, store: MediaStore, exif_utc_offset_minutes: int
) -> MediaFacts:
    """Check the spooled file against its name and type, then store it (consuming it)."""
    try:
        if received.sha256 != expected_sha256:
            raise Refusal(
                "sha256",
                f"the bytes hash to {received.sha256}, not {expected_sha256}",
                status=422,
            )
        # The store's put_file makes the file durable itself (a second fsync then finds
        # nothing left to write); started here, the disk works while the file is checked.
        synced = asyncio.ensure_future(anyio.to_thread.run_sync(fsync_file, received.path))
        try:
            facts = await describe(received.path, exif_utc_offset_minutes)
        finally:
            await synced
        await store.put_file(object_key(expected_sha256), received.path, facts.content_type)
    finally:
        remove_quietly(received.path)
    return facts


def has_thumbnails(content_type: str) -> bool:
    return content_type != PDF and (content_type not in (HEIC, HEIF) or HEIF_DECODER)


async def record(
    session: AsyncSession, sha256: str, size: int, facts: MediaFacts, now: datetime
) -> bool:
    """Insert the row of stored bytes (and its thumbnail job); False if it was held already."""
    inserted = await session.execute(
        insert(session, MediaObject)
        .values(
            sha256=sha256,
            size_bytes=size,
            content_type=facts.content_type,
            stored_at=now,
            width=facts.width,
            height=facts.height,
            taken_at=facts.taken_at,
            lat=facts.lat,
            lon=facts.lon,
            exif_flags=",".join(facts.flags),
            exif_present=facts.exif_present,
            exif_software=facts.exif_software,
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(MediaObject.sha256)
    )
    if inserted.first() is None:
        return False
    await session.execute(
        insert(session, ThumbnailJob)
        .values(
            sha256=sha256,
            status="pending" if has_thumbnails(facts.content_type) else "none",
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return True


async def held(session: AsyncSession, sha256: str) -> MediaObject | None:
    return await session.get(MediaObject, sha256)


_MEDIA = MediaObject.__table__
_HELD = select(_MEDIA.c.size_bytes, _MEDIA.c.content_type).where(
    _MEDIA.c.sha256 == bindparam("sha256")
)


async def held_facts(conn: AsyncConnection, sha256: str) -> tuple[int, str] | None:
    """(size, content type) of held bytes, on a bare connection: the check before a body."""
    row = (await conn.execute(_HELD, {"sha256": sha256})).first()
    return None if row is None else (row[0], row[1])
