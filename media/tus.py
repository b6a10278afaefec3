"""Resumable uploads, tus 1.0.0: core, creation, checksum, termination, expiration.

An upload's bytes so far are a local part file and its size is the offset, so what a
PATCH acknowledged (after fsync) survives a kill -9, and bytes received before a cut
connection are kept for the client to resume after. A chunk sent with `Upload-Checksum`
is spooled aside and appended only once verified. A lock on the part file (flock, so it
holds across processes and dies with its holder) keeps two requests from writing one
upload. Every refusal is a `Refusal` naming the header at fault. Completing a full upload
(like a PUT, and again after a crash) is `media/completion.py`. With the store on S3 the
bytes go to an S3 multipart upload instead and the offset is in the database, so any
server can resume (`media/tus_s3.py`); creation, parsing and expiry are shared.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, NamedTuple

import anyio.to_thread
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import User
from cases.refusal import Conflict, NotFound, Refusal
from media.models import TusPart, TusUpload
from media.s3parts import forget_expired
from media.spool import WRITE_BATCH, Spool
from media.store import SHA256_HEX, MediaStore, S3Store, remove_quietly

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
}
ADVERTISED_CHECKSUMS = "sha1,sha256,md5"
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class UploadBusy(Refusal):
    """Another request holds the upload (writing or completing it): try again later."""

    status = 423

    def __init__(self) -> None:
        super().__init__("upload", "another request is using this upload")


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
            raise Refusal("Upload-Metadata", f"malformed pair {pair.strip()[:40]!r}")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise Refusal("Upload-Metadata", f"{key}: not base64 of UTF-8 text") from None
        if "\x00" in value:
            raise Refusal("Upload-Metadata", f"{key}: contains NUL")
        if key in result:
            raise Refusal("Upload-Metadata", f"{key}: given more than once")
        result[key] = value
    return result


def parse_length(value: str | None, max_bytes: int) -> int:
    if value is None:
        raise Refusal("Upload-Length", "required (Upload-Defer-Length is not supported)")
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise Refusal("Upload-Length", "not a non-negative integer")
    length = int(value)
    if length > max_bytes:
        raise Refusal("Upload-Length", f"over the limit of {max_bytes} bytes", status=413)
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
        raise Refusal("Upload-Metadata", "longer than 4096 characters")
    metadata = parse_metadata(metadata_header)
    sha256 = metadata.get("sha256", "").lower()
    if not SHA256_HEX.fullmatch(sha256):
        raise Refusal("Upload-Metadata", "sha256: required, 64 hex digits")
    filename = metadata.get("filename")
    if filename is not None and len(filename) > 255:
        raise Refusal("Upload-Metadata", "filename: longer than 255 characters")
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
    """Exclusive use of one upload (flock on its lock file); UploadBusy if busy."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_path(uploads_dir, upload_id), "ab") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy() from None
        yield


def _sync(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """`algorithm base64-digest`; anything malformed is 400 (460 is only for a mismatch)."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if not algorithm:
        raise Refusal("Upload-Checksum", "empty (expected 'algorithm base64-digest')")
    if algorithm not in CHECKSUMS:
        raise Refusal("Upload-Checksum", f"unsupported algorithm (use {ADVERTISED_CHECKSUMS})")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise Refusal("Upload-Checksum", "not base64") from None
    size = CHECKSUMS[algorithm]().digest_size
    if len(digest) != size:
        raise Refusal("Upload-Checksum", f"a {algorithm} digest is {size} bytes, not {len(digest)}")
    return algorithm, digest


async def _copy_in(
    f: BinaryIO, chunks: AsyncIterable[bytes], room: int, hasher: hashlib._Hash | None
) -> int:
    """Append chunks to `f` in batches written in a thread while the next batch arrives
    (`media.spool`); refuse more than `room` bytes."""
    received = 0
    spool = Spool(f, hasher)
    try:
        async for chunk in chunks:
            if received + len(chunk) > room:
                raise Refusal("body", "goes past Upload-Length")
            received += len(chunk)
            await spool.add(chunk)
    finally:
        # Whatever arrived in order is kept (and made durable), even from a cut connection.
        await spool.drain()
        await anyio.to_thread.run_sync(_sync, f)
    return received


class Appended(NamedTuple):
    offset: int  # the new offset, durably on disk
    # The SHA-256 of the whole part, where this PATCH wrote all of it (from offset 0, with
    # no checksum of its own): hashed as it arrived, so completing need not read it again.
    sha256: str | None


async def append(
    upload: TusUpload,
    uploads_dir: Path,
    *,
    offset_header: str | None,
    checksum_header: str | None,
    chunks: AsyncIterable[bytes],
) -> Appended:
    """Write one PATCH body at the declared offset."""
    if offset_header is None or not offset_header.isascii() or not offset_header.isdigit():
        raise Refusal("Upload-Offset", "required, a non-negative integer")
    checksum = parse_checksum(checksum_header)
    part = part_path(uploads_dir, upload.id)
    with locked(uploads_dir, upload.id), open(part, "ab") as f:  # noqa: ASYNC230 - threaded I/O
        current = f.tell()
        if int(offset_header) != current:
            raise Conflict("Upload-Offset", f"is {offset_header}, the upload is at {current}")
        room = upload.length - current
        if checksum is None:
            whole = hashlib.sha256() if current == 0 else None
            try:
                await _copy_in(f, chunks, room, whole)
            except Refusal:  # a body past the declared length: keep none of it
                f.truncate(current)
                raise
            end = f.tell()
            complete = whole is not None and end == upload.length
            return Appended(end, whole.hexdigest() if complete else None)
        side = uploads_dir / f"{upload.id}.chunk"
        try:
            await spool_verified(side, chunks, room, checksum)
            await anyio.to_thread.run_sync(_append_file, f, side)
        finally:
            remove_quietly(side)
        return Appended(f.tell(), None)


async def spool_verified(
    side: Path, chunks: AsyncIterable[bytes], room: int, checksum: tuple[str, bytes]
) -> None:
    """A chunk sent with `Upload-Checksum`, spooled to `side` and verified before any of it
    may join the upload (on disk or on S3); a cut chunk or a mismatch is refused whole."""
    with open(side, "wb") as spool:  # noqa: ASYNC230 - writes go through a thread
        hasher = CHECKSUMS[checksum[0]]()
        try:
            await _copy_in(spool, chunks, room, hasher)
        except Refusal:
            raise
        except Exception:
            raise Refusal("body", "cut off before the checksum could be verified") from None
    if hasher.digest() != checksum[1]:
        raise Refusal("Upload-Checksum", f"the chunk's {checksum[0]} does not match", status=460)


def _append_file(f: BinaryIO, side: Path) -> None:
    with open(side, "rb") as src:
        shutil.copyfileobj(src, f, WRITE_BATCH)
    _sync(f)


# -- termination and expiry -----------------------------------------------------------


async def terminate(session: AsyncSession, upload: TusUpload, uploads_dir: Path) -> None:
    if upload.completed_at is None:
        with locked(uploads_dir, upload.id):
            remove_quietly(part_path(uploads_dir, upload.id))
    remove_quietly(lock_path(uploads_dir, upload.id))
    await session.execute(delete(TusPart).where(TusPart.upload_id == upload.id))
    await session.execute(delete(TusUpload).where(TusUpload.id == upload.id))


async def sweep_expired(
    session: AsyncSession, uploads_dir: Path, now: datetime, store: MediaStore | None = None
) -> int:
    """Forget uploads past their expiry: unfinished ones with their bytes (on S3: their
    multipart upload aborted, their tail deleted), finished ones' rows (their media stays).
    The number removed."""
    expired = (
        await session.execute(
            select(TusUpload.id, TusUpload.completed_at, TusUpload.multipart_id).where(
                TusUpload.expires_at <= now
            )
        )
    ).all()
    for upload_id, _completed, _multipart in expired:
        remove_quietly(part_path(uploads_dir, upload_id))
        remove_quietly(lock_path(uploads_dir, upload_id))
    if isinstance(store, S3Store):
        await forget_expired(store, [(row[0], row[2]) for row in expired if row[1] is None])
    if expired:
        ids = [row[0] for row in expired]
        await session.execute(delete(TusPart).where(TusPart.upload_id.in_(ids)))
        await session.execute(delete(TusUpload).where(TusUpload.id.in_(ids)))
    return len(expired)


def is_expired(upload: TusUpload, now: datetime) -> bool:
    return upload.completed_at is None and upload.expires_at <= now


async def find_upload(
    session: AsyncSession, upload_id: str, *, user: User, now: datetime
) -> TusUpload:
    """The caller's upload (an admin's: anyone's); anyone else's is not found, as if absent."""
    upload = await session.get(TusUpload, upload_id) if UPLOAD_ID.fullmatch(upload_id) else None
    if upload is None or (upload.owner_id != user.id and user.role != "admin"):
        raise NotFound("", f"upload {upload_id[:40]!r}: not found")
    if is_expired(upload, now):
        raise Refusal("", f"upload {upload_id}: expired", status=410)
    return upload
