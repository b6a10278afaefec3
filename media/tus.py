"""Resumable uploads, tus 1.0.0: core, creation, checksum, termination, expiration.

An upload's bytes so far are a local part file and its size is the offset, so what a
PATCH acknowledged (after fsync) survives a kill -9, and bytes received before a cut
connection are kept for the client to resume after. A chunk sent with `Upload-Checksum`
is spooled aside and appended only once verified. A lock on the part file (flock, so it
holds across processes and dies with its holder) keeps two requests from writing one
upload. The finished file goes through the same checks and storage as a PUT; the part
file stays until its bytes are in the store, so a completion that fails for any reason
but a refusal keeps the offset and can be finished again (HEAD or PATCH at the end).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from media.ingest import MediaRefused, Received, accept, describe, record
from media.models import TusUpload
from media.store import SHA256_HEX, MediaStore, new_temp, object_key, remove_quietly

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
}
ADVERTISED_CHECKSUMS = "sha1,sha256,md5"
WRITE_BATCH = 1024 * 1024


class TusError(Exception):
    """A refusal: HTTP `status` and a message naming the header or field at fault."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- creation -------------------------------------------------------------------------


def parse_metadata(header: str) -> dict[str, str]:
    """`key base64,key2 base64` -> {key: text}; refuses what is not that."""
    result: dict[str, str] = {}
    if not header.strip():
        return result
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not key or len(parts) > 2 or not key.isascii() or not key.isprintable():
            raise TusError(400, f"Upload-Metadata: malformed pair {pair.strip()[:40]!r}")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise TusError(400, f"Upload-Metadata: {key}: not base64 of UTF-8 text") from None
        if "\x00" in value:
            raise TusError(400, f"Upload-Metadata: {key}: contains NUL")
        if key in result:
            raise TusError(400, f"Upload-Metadata: {key}: given more than once")
        result[key] = value
    return result


def parse_length(value: str | None, max_bytes: int) -> int:
    if value is None:
        raise TusError(400, "Upload-Length: required (Upload-Defer-Length is not supported)")
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise TusError(400, "Upload-Length: not a non-negative integer")
    length = int(value)
    if length > max_bytes:
        raise TusError(413, f"Upload-Length: over the limit of {max_bytes} bytes")
    return length


async def create_upload(
    session: AsyncSession,
    *,
    owner_id: int,
    length_header: str | None,
    metadata_header: str,
    max_bytes: int,
    now: datetime,
    expiry_seconds: int,
) -> TusUpload:
    length = parse_length(length_header, max_bytes)
    if len(metadata_header) > 4096:
        raise TusError(400, "Upload-Metadata: longer than 4096 characters")
    metadata = parse_metadata(metadata_header)
    sha256 = metadata.get("sha256", "").lower()
    if not SHA256_HEX.fullmatch(sha256):
        raise TusError(400, "Upload-Metadata: sha256: required, 64 hex digits")
    filename = metadata.get("filename")
    if filename is not None and len(filename) > 255:
        raise TusError(400, "Upload-Metadata: filename: longer than 255 characters")
    upload = TusUpload(
        id=secrets.token_hex(16),
        owner_id=owner_id,
        length=length,
        sha256=sha256,
        filename=filename,
        metadata_header=metadata_header,
        created_at=now,
        expires_at=now + timedelta(seconds=expiry_seconds),
    )
    session.add(upload)
    await session.flush()
    return upload


# -- the part file --------------------------------------------------------------------


def part_path(uploads_dir: Path, upload_id: str) -> Path:
    return uploads_dir / f"{upload_id}.part"


def offset_of(upload: TusUpload, uploads_dir: Path) -> int:
    if upload.completed_at is not None:
        return upload.length
    try:
        return part_path(uploads_dir, upload.id).stat().st_size
    except FileNotFoundError:
        return 0


def lock_path(uploads_dir: Path, upload_id: str) -> Path:
    return uploads_dir / f"{upload_id}.lock"


@contextmanager
def locked(uploads_dir: Path, upload_id: str) -> Iterator[None]:
    """Exclusive use of one upload (flock on its lock file); TusError 423 if busy."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_path(uploads_dir, upload_id), "ab") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TusError(423, "upload: another request is using this upload") from None
        yield


def _write(f: BinaryIO, data: bytes, hasher: hashlib._Hash | None) -> None:
    f.write(data)
    if hasher is not None:
        hasher.update(data)


def _sync(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """`algorithm base64-digest`; anything malformed is 400 (460 is only for a mismatch)."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if not algorithm:
        raise TusError(400, "Upload-Checksum: empty (expected 'algorithm base64-digest')")
    if algorithm not in CHECKSUMS:
        raise TusError(400, f"Upload-Checksum: unsupported algorithm (use {ADVERTISED_CHECKSUMS})")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise TusError(400, "Upload-Checksum: not base64") from None
    size = CHECKSUMS[algorithm]().digest_size
    if len(digest) != size:
        raise TusError(
            400, f"Upload-Checksum: a {algorithm} digest is {size} bytes, not {len(digest)}"
        )
    return algorithm, digest


async def _copy_in(
    f: BinaryIO, chunks: AsyncIterable[bytes], room: int, hasher: hashlib._Hash | None
) -> int:
    """Append chunks to `f` in batches through a thread; refuse more than `room` bytes."""
    written = 0
    batch = bytearray()
    try:
        async for chunk in chunks:
            if written + len(batch) + len(chunk) > room:
                raise TusError(400, "body: goes past Upload-Length")
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await anyio.to_thread.run_sync(_write, f, bytes(batch), hasher)
                written += len(batch)
                batch.clear()
    finally:
        # Whatever arrived in order is kept (and made durable), even from a cut connection.
        if batch:
            await anyio.to_thread.run_sync(_write, f, bytes(batch), hasher)
            written += len(batch)
        await anyio.to_thread.run_sync(_sync, f)
    return written


async def append(
    upload: TusUpload,
    uploads_dir: Path,
    *,
    offset_header: str | None,
    checksum_header: str | None,
    chunks: AsyncIterable[bytes],
) -> int:
    """Write one PATCH body at the declared offset; the new offset, durably on disk."""
    if offset_header is None or not offset_header.isascii() or not offset_header.isdigit():
        raise TusError(400, "Upload-Offset: required, a non-negative integer")
    checksum = parse_checksum(checksum_header)
    part = part_path(uploads_dir, upload.id)
    with locked(uploads_dir, upload.id), open(part, "ab") as f:  # noqa: ASYNC230 - threaded I/O
        current = f.tell()
        if int(offset_header) != current:
            raise TusError(409, f"Upload-Offset: is {offset_header}, the upload is at {current}")
        room = upload.length - current
        if checksum is None:
            try:
                await _copy_in(f, chunks, room, None)
            except TusError:  # a body past the declared length: keep none of it
                f.truncate(current)
                raise
            return f.tell()
        side = uploads_dir / f"{upload.id}.chunk"
        try:
            with open(side, "wb") as spool:  # noqa: ASYNC230 - writes go through a thread
                hasher = CHECKSUMS[checksum[0]]()
                try:
                    await _copy_in(spool, chunks, room, hasher)
                except TusError:
                    raise
                except Exception:
                    raise TusError(
                        400, "body: cut off before the checksum could be verified"
                    ) from None
            if hasher.digest() != checksum[1]:
                raise TusError(460, f"Upload-Checksum: the chunk's {checksum[0]} does not match")
            await anyio.to_thread.run_sync(_append_file, f, side)
        finally:
            remove_quietly(side)
        return f.tell()


def _append_file(f: BinaryIO, side: Path) -> None:
    with open(side, "rb") as src:
        shutil.copyfileobj(src, f, WRITE_BATCH)
    _sync(f)


# -- completion -----------------------------------------------------------------------


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
) -> bool:
    """Land a complete upload exactly like a PUT (MediaRefused if refused, and then the
    part file is gone: nothing kept). True if the object is new."""
    with locked(uploads_dir, upload.id):
        return await _finalize(session, upload, uploads_dir, store, now, exif_utc_offset_minutes)


async def _finalize(
    session: AsyncSession,
    upload: TusUpload,
    uploads_dir: Path,
    store: MediaStore,
    now: datetime,
    exif_utc_offset_minutes: int,
) -> bool:
    path = part_path(uploads_dir, upload.id)
    if path.exists():
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
        except MediaRefused:
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


# -- termination and expiry -----------------------------------------------------------


async def terminate(session: AsyncSession, upload: TusUpload, uploads_dir: Path) -> None:
    if upload.completed_at is None:
        with locked(uploads_dir, upload.id):
            remove_quietly(part_path(uploads_dir, upload.id))
    remove_quietly(lock_path(uploads_dir, upload.id))
    await session.execute(delete(TusUpload).where(TusUpload.id == upload.id))


async def sweep_expired(session: AsyncSession, uploads_dir: Path, now: datetime) -> int:
    """Forget uploads past their expiry: unfinished ones with their bytes, finished ones'
    rows (their media stays). The number removed."""
    expired = (
        await session.execute(
            select(TusUpload.id, TusUpload.completed_at).where(TusUpload.expires_at <= now)
        )
    ).all()
    for upload_id, _completed in expired:
        remove_quietly(part_path(uploads_dir, upload_id))
        remove_quietly(lock_path(uploads_dir, upload_id))
    if expired:
        await session.execute(
            delete(TusUpload).where(TusUpload.id.in_([row[0] for row in expired]))
        )
    return len(expired)


def is_expired(upload: TusUpload, now: datetime) -> bool:
    return upload.completed_at is None and upload.expires_at <= now
