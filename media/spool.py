"""Writing a request body to a file at disk speed: chunks are gathered into batches and
each batch is hashed and written (in two worker threads at once) while the next one
arrives; the disk starts writing each batch out at once (Linux's sync_file_range), so the
fsync that closes the body waits for the last batch only, not for all of it.

The chunks are written as they came (no joining into one buffer, so no extra copy), in
order (a batch starts only once the one before it is written), and at most two batches
are held in memory whatever the size of the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import sys
from collections.abc import Callable
from typing import BinaryIO

import anyio.to_thread

# Bytes gathered before one threaded hash+write: large enough that a thread hand-off is
# rare (a dozen per photo), small enough that the batch left after the last byte is short.
WRITE_BATCH = 256 * 1024
SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of the range, do not wait


def _writeback_starter() -> Callable[[int, int, int], object] | None:
    """libc's sync_file_range where there is one (Linux); elsewhere the fsync does it all."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return lambda fd, offset, length: call(fd, offset, length, SYNC_FILE_RANGE_WRITE)


_start_writeback = _writeback_starter()


def _write(f: BinaryIO, chunks: list[bytes], writeback: bool) -> None:
    start = f.tell()
    for chunk in chunks:
        f.write(chunk)  # mostly larger than the file's buffer: straight to the OS, uncopied
    if writeback and _start_writeback is not None:
        f.flush()
        # Only a hint (an error here is the fsync's to report): the pages go to disk now,
        # while the next batch arrives.
        _start_writeback(f.fileno(), start, f.tell() - start)


def _hash(hasher: hashlib._Hash, chunks: list[bytes]) -> None:
    for chunk in chunks:
        hasher.update(chunk)


async def _hash_and_write(
    f: BinaryIO, chunks: list[bytes], hasher: hashlib._Hash | None, writeback: bool
) -> None:
    """Both release the GIL: in two threads a batch costs the slower of the two, not both."""
    write = asyncio.ensure_future(anyio.to_thread.run_sync(_write, f, chunks, writeback))
    try:
        if hasher is not None:
            await anyio.to_thread.run_sync(_hash, hasher, chunks)
    finally:
        await write


class Spool:
    """Appends chunks to `f` (hashing them into `hasher`, if any) overlapped with arrival."""

    def __init__(self, f: BinaryIO, hasher: hashlib._Hash | None, *, durable: bool = True) -> None:
        self.f = f
        self.hasher = hasher
        # Bound for an fsync (False: a scratch file read back soon, e.g. an S3 part buffer,
        # whose pages had better stay in memory than be written out for nothing).
        self.durable = durable
        self.batch: list[bytes] = []
        self.batched = 0
        self.writing: asyncio.Future[None] | None = None

    async def add(self, chunk: bytes) -> None:
        self.batch.append(chunk)
        self.batched += len(chunk)
        if self.batched >= WRITE_BATCH:
            await self._hand_over()

    async def _hand_over(self) -> None:
        if self.writing is not None:
            await self.writing
            self.writing = None
        if self.batch:
            batch, self.batch, self.batched = self.batch, [], 0
            self.writing = asyncio.ensure_future(
                _hash_and_write(self.f, batch, self.hasher, self.durable)
            )

    async def drain(self) -> None:
        """Everything added so far is written (not yet fsynced)."""
        await self._hand_over()
        if self.writing is not None:
            await self.writing
            self.writing = None

    async def settle(self) -> None:
        """After a failure: let a write under way end (its error, if any, is dropped)."""
        if self.writing is not None:
            with contextlib.suppress(BaseException):
                await self.writing
            self.writing = None
