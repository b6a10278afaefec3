"""tus on S3, as tusd's s3store does it: any server process on any machine can resume.

A PATCH streams into a local temp file (the upload's tail object first, if it has one);
each time it holds 5 MiB (S3's minimum part) it is uploaded as the next part of the
upload's S3 multipart upload while the body goes on arriving. What is left at the end of
the PATCH, under 5 MiB, becomes the new tail object. Only then is the new state committed
(offset, tail size, parts and their ETags), and only then does the client hear 204: what a
PATCH acknowledged is in S3 and in the database, so it survives a kill -9 of the server.
Until that commit nothing of the PATCH counts: stray parts are overwritten by the next
PATCH (same part numbers) or dropped when the upload is assembled from the listed parts.

A cut connection keeps what arrived (as on disk); a body past Upload-Length or a chunk
failing its Upload-Checksum keeps none. One request at a time per upload (`tus_lock`).

Completing: the last part goes up, CompleteMultipartUpload assembles the object, and it is
read back once to hash it (Python's hash state cannot be kept across requests), then lands
like a PUT (`media.ingest.accept`: sha256, type and EXIF checks, stored under its hash).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
from sqlalchemy import select, update

from cases.refusal import Conflict, Refusal, Unavailable
from media.models import TusPart, TusUpload
from media.s3parts import MIN_PART_BYTES, S3Parts, tail_key
from media.spool import Spool
from media.store import S3Store, new_temp, remove_quietly
from media.tus import parse_checksum, spool_verified


@dataclass
class State:
    """An upload's committed state on S3."""

    offset: int
    tail: int
    multipart_id: str | None
    completed: bool
    parts: list[tuple[int, str, int]] = field(default_factory=list)  # number, etag, size


async def load_state(database, upload_id: str) -> State:
    async with database.session(write=False) as session:
        row = await session.get(TusUpload, upload_id)
        if row is None:
            raise Refusal("", f"upload {upload_id}: gone", status=404)
        parts = (
            await session.execute(
                select(TusPart.number, TusPart.etag, TusPart.size_bytes)
                .where(TusPart.upload_id == upload_id)
                .order_by(TusPart.number)
            )
        ).all()
    return State(
        row.offset_bytes,
        row.tail_bytes,
        row.multipart_id,
        row.completed_at is not None,
        [tuple(p) for p in parts],
    )


class PartWriter:
    """One PATCH's bytes on their way to S3: a local buffer cut into parts as it fills."""

    def __init__(self, parts: S3Parts, database, upload: TusUpload, state: State) -> None:
        self.s3 = parts
        self.database = database
        self.upload = upload
        self.state = state
        self.staging = parts.store.staging_dir
        self.new_parts: list[tuple[int, str, int]] = []
        self.buffer = new_temp(self.staging, ".tus")
        self.buffered = 0
        self.taken = 0  # bytes of this PATCH
        self.pending: asyncio.Future[None] | None = None
        self.files = [self.buffer]
        # The buffer on disk may lack bytes counted in `buffered` (a failed write).
        self.broken = False
        # The whole upload as a local file, when it is complete without parts.
        self.whole: Path | None = None

    async def start(self) -> None:
        """Begin with the tail object, so the next part carries it."""
        if self.state.tail:
            await self.s3.fetch_into(tail_key(self.upload.id, self.state.offset), self.buffer)
            self.buffered = self.state.tail

    async def take(self, chunks: AsyncIterable[bytes], room: int) -> None:
        """Stream a body in, uploading a part every 5 MiB; at most `room` bytes."""
        f = open(self.buffer, "ab")  # noqa: ASYNC230 - writes go through a worker thread
        spool = Spool(f, None, durable=False)
        try:
            async for chunk in chunks:
                if self.taken + len(chunk) > room:
                    raise Refusal("body", "goes past Upload-Length")
                self.taken += len(chunk)
                view = memoryview(chunk)
                while self.buffered + len(view) >= MIN_PART_BYTES:
                    cut = MIN_PART_BYTES - self.buffered
                    self.buffered += cut
                    await spool.add(view[:cut])
                    await spool.drain()
                    f.close()
                    await self._cut()
                    view = view[cut:]
                    f = open(self.buffer, "ab")  # noqa: ASYNC230 - a fresh, empty buffer
                    spool = Spool(f, None, durable=False)
                if len(view):
                    self.buffered += len(view)
                    await spool.add(view)
            await spool.drain()
        except BaseException:
            try:
                await spool.drain()  # what arrived is kept if the connection was cut
            except BaseException:
                await spool.settle()
                self.broken = True
            raise
        finally:
            f.close()

    async def take_file(self, path: Path) -> None:
        """A verified chunk spooled aside, read through in 5 MiB parts."""

        async def read() -> AsyncIterable[bytes]:
            with open(path, "rb") as f:  # noqa: ASYNC230 - small reads
                while block := await anyio.to_thread.run_sync(f.read, 1024 * 1024):
                    yield block

        await self.take(read(), self.upload.length - self.state.offset)

    async def _cut(self) -> None:
        """The buffer (5 MiB, or the last bytes) goes up as the next part, in the
        background while the body goes on arriving; at most one part at a time."""
        await self.settle_part()
        if self.state.multipart_id is None:
            self.state.multipart_id = await self.s3.create(self.upload.id)
            # Committed at once, so expiry can abort it whatever happens next.
            async with self.database.session() as session:
                await session.execute(
                    update(TusUpload)
                    .where(TusUpload.id == self.upload.id)
                    .values(multipart_id=self.state.multipart_id)
                )
                await session.commit()
        number = len(self.state.parts) + len(self.new_parts) + 1
        path, size = self.buffer, self.buffered
        self.buffer = new_temp(self.staging, ".tus")
        self.files.append(self.buffer)
        self.buffered = 0

        async def send() -> None:
            etag = await self.s3.upload_part(self.upload.id, self.state.multipart_id, number, path)
            self.new_parts.append((number, etag, size))
            remove_quietly(path)

        self.files.append(path)
        self.pending = asyncio.ensure_future(send())

    async def settle_part(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            await pending

    async def finish(self) -> int:
        """Send what is left (the last part, or a new tail object) and commit the new
        state; the new offset."""
        await self.settle_part()
        if self.broken:
            raise Unavailable("body", "could not be buffered on local disk")
        offset = self.state.offset + self.taken
        last = offset == self.upload.length
        if self.taken == 0:
            return offset
        tail = 0
        if last and (self.state.parts or self.new_parts) and self.buffered:
            await self._cut()
            await self.settle_part()
        elif self.buffered:
            tail = self.buffered
            await self.s3.put(tail_key(self.upload.id, offset), self.buffer)
            if last:  # no parts: the buffer is the whole upload, for completion to use
                self.whole = self.buffer
                self.files.remove(self.buffer)
        old_tail = tail_key(self.upload.id, self.state.offset) if self.state.tail else None
        async with self.database.session() as session:
            for number, etag, size in self.new_parts:
                session.add(
                    TusPart(upload_id=self.upload.id, number=number, etag=etag, size_bytes=size)
                )
            await session.execute(
                update(TusUpload)
                .where(TusUpload.id == self.upload.id)
                .values(offset_bytes=offset, tail_bytes=tail)
            )
            await session.commit()
        if old_tail is not None:
            with contextlib.suppress(Unavailable):
                await self.s3.delete(old_tail)
        return offset

    async def close(self) -> None:
        if self.pending is not None:
            with contextlib.suppress(BaseException):
                await self.pending
        for path in self.files:
            remove_quietly(path)


def parse_headers(
    offset_header: str | None, checksum_header: str | None
) -> tuple[int, tuple[str, bytes] | None]:
    """Upload-Offset and Upload-Checksum, refused before anything else is done."""
    if offset_header is None or not offset_header.isascii() or not offset_header.isdigit():
        raise Refusal("Upload-Offset", "required, a non-negative integer")
    return int(offset_header), parse_checksum(checksum_header)


async def append(
    upload: TusUpload,
    *,
    database,
    store: S3Store,
    offset: int,
    checksum: tuple[str, bytes] | None,
    chunks: AsyncIterable[bytes],
) -> tuple[int, Path | None]:
    """Write one PATCH body at the declared offset (headers read by `parse_headers`), the
    caller holding the upload's lock (`tus_lock`); the new offset, committed, and (the
    caller's to remove) the whole upload as a local file if this PATCH completed it
    without parts."""
    state = await load_state(database, upload.id)
    if state.completed:
        raise Conflict("", f"upload {upload.id}: already complete")
    if offset != state.offset:
        raise Conflict("Upload-Offset", f"is {offset}, the upload is at {state.offset}")
    room = upload.length - state.offset
    writer = PartWriter(S3Parts(store), database, upload, state)
    try:
        if checksum is None:
            await writer.start()
            try:
                await writer.take(chunks, room)
            except Refusal:
                raise  # past Upload-Length, or the store: keep none of it
            except Exception:
                # A cut connection: keep what arrived, then let the caller hear of it.
                await writer.finish()
                raise
            return await writer.finish(), writer.whole
        side = new_temp(store.staging_dir, ".chunk")
        writer.files.append(side)
        await spool_verified(side, chunks, room, checksum)
        await writer.start()
        await writer.take_file(side)
        return await writer.finish(), writer.whole
    finally:
        await writer.close()
