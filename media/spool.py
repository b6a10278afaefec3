"""Writing a request body to a file at disk speed: chunks are gathered into large batches
and each batch is hashed and written (in two worker threads at once) while the next one
arrives.

The chunks are written as they came (no joining into one buffer, so no extra copy), in
order (a batch starts only once the one before it is written), and at most two batches
are held in memory whatever the size of the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import BinaryIO

import anyio.to_thread

WRITE_BATCH = 1024 * 1024  # bytes gathered before one threaded hash+write


def _write(f: BinaryIO, chunks: list[bytes]) -> None:
    for chunk in chunks:
        f.write(chunk)  # larger than the file's buffer: straight to the OS, uncopied


def _hash(hasher: hashlib._Hash, chunks: list[bytes]) -> None:
    for chunk in chunks:
        hasher.update(chunk)


async def _hash_and_write(f: BinaryIO, chunks: list[bytes], hasher: hashlib._Hash | None) -> None:
    """Both release the GIL: in two threads a batch costs the slower of the two, not both."""
    write = asyncio.ensure_future(anyio.to_thread.run_sync(_write, f, chunks))
    try:
        if hasher is not None:
            await anyio.to_thread.run_sync(_hash, hasher, chunks)
    finally:
        await write


class Spool:
    """Appends chunks to `f` (hashing them into `hasher`, if any) overlapped with arrival."""

    def __init__(self, f: BinaryIO, hasher: hashlib._Hash | None) -> None:
        self.f = f
        self.hasher = hasher
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
            self.writing = asyncio.ensure_future(_hash_and_write(self.f, batch, self.hasher))

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
