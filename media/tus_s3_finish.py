"""Completing, recovering, terminating and expiring tus uploads on S3 (see `media.tus_s3`).

Completion is like the disk's (`media.completion`): a refusal of the bytes (415, 422)
keeps nothing (the multipart upload is aborted and the upload starts again from 0); any
other failure keeps every byte and the full offset (503), and a HEAD, on any server,
finishes it later. The assembled object is read back once to hash it, then stored under
its hash by `media.ingest.accept` and recorded; the upload's own objects go last.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

import anyio.to_thread
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm.attributes import set_committed_value

from cases.refusal import Refusal, Unavailable
from media.completion import _hash_file, _storing
from media.ingest import Received, accept, describe, record
from media.models import TusPart, TusUpload
from media.s3parts import S3Parts, tail_key, upload_key
from media.store import S3Store, new_temp, object_key, remove_quietly
from media.tus import UploadBusy
from media.tus_lock import upload_lock
from media.tus_s3 import State, load_state


def offset_of(upload: TusUpload) -> int:
    return upload.length if upload.completed_at is not None else upload.offset_bytes


async def _assembled(s3: S3Parts, upload: TusUpload, state: State) -> Path | None:
    """The whole upload fetched to a local temp file (assembling its parts first); None
    if its objects are gone."""
    temp = new_temp(s3.store.staging_dir, ".tus")
    try:
        if state.parts:
            if state.multipart_id is not None:
                # False if completed before a crash: the assembled object is there.
                await s3.complete(
                    upload.id, state.multipart_id, [(n, e) for n, e, _ in state.parts]
                )
            key = upload_key(upload.id)
        elif state.tail:
            key = tail_key(upload.id, state.offset)
        else:
            return temp  # nothing but an empty upload
        try:
            await s3.store.fetch(key, temp)
        except KeyError:
            remove_quietly(temp)
            return None
        return temp
    except BaseException:
        remove_quietly(temp)
        raise


async def _reset(database, s3: S3Parts, upload: TusUpload, state: State) -> None:
    """Keep nothing of the upload's bytes: it starts again from 0."""
    await s3.forget(upload.id, state.multipart_id)
    async with database.session() as session:
        await session.execute(delete(TusPart).where(TusPart.upload_id == upload.id))
        await session.execute(
            update(TusUpload)
            .where(TusUpload.id == upload.id)
            .values(offset_bytes=0, tail_bytes=0, multipart_id=None)
        )
        await session.commit()
    for name in ("offset_bytes", "tail_bytes"):
        set_committed_value(upload, name, 0)
    set_committed_value(upload, "multipart_id", None)


async def finalize(
    database,
    upload: TusUpload,
    store: S3Store,
    *,
    whole: Path | None,
    now: datetime,
    exif_utc_offset_minutes: int,
) -> bool:
    """Land a complete upload like a PUT (the caller holds its lock); True if new.
    `whole`, if given, is the upload as a local file (consumed)."""
    s3 = S3Parts(store)
    with _storing(upload):
        try:
            state = await load_state(database, upload.id)
            if state.completed:
                return False
            key = object_key(upload.sha256)
            path = None
            if state.offset == upload.length:
                path = whole or await _assembled(s3, upload, state)
            if path is not None:
                sha256, size = await anyio.to_thread.run_sync(_hash_file, path)
                try:
                    facts = await accept(
                        Received(path, sha256, size), upload.sha256, store, exif_utc_offset_minutes
                    )
                except Unavailable:
                    raise
                except Refusal:
                    await _reset(database, s3, upload, state)
                    raise
            elif upload.length and await store.exists(key):
                # Held already: a fresh upload of stored bytes, or a crash after storing.
                temp = new_temp(store.staging_dir)
                try:
                    await store.fetch(key, temp)
                    size = temp.stat().st_size
                    facts = await describe(temp, exif_utc_offset_minutes)
                finally:
                    remove_quietly(temp)
            else:
                if state.offset == upload.length and upload.length:
                    await _reset(database, s3, upload, state)  # its objects are gone
                return False
        finally:
            remove_quietly(whole)
        async with database.session() as session:
            created = await record(session, upload.sha256, size, facts, now)
            await session.execute(delete(TusPart).where(TusPart.upload_id == upload.id))
            await session.execute(
                update(TusUpload)
                .where(TusUpload.id == upload.id)
                .values(completed_at=now, offset_bytes=upload.length, tail_bytes=0)
            )
            await session.commit()
    # Not an attribute change: the request's own (read) session must not write it.
    set_committed_value(upload, "completed_at", now)
    with contextlib.suppress(Unavailable):  # leftovers only; expiry never sees them again
        await s3.forget(upload.id, None)
    return created


def needs_finalizing(upload: TusUpload) -> bool:
    """Full but never completed (a crash, a failed store), or fresh: maybe held already."""
    if upload.completed_at is not None or upload.length == 0:
        return False
    return upload.offset_bytes in (0, upload.length)


async def recover(
    upload: TusUpload,
    database,
    engine: AsyncEngine | None,
    uploads_dir: Path,
    store: S3Store,
    *,
    now: datetime,
    exif_utc_offset_minutes: int,
) -> None:
    """Complete what a crash or a failed store left full; busy means another request is
    at it. A fresh upload costs one S3 HEAD (are its bytes held already?)."""
    if upload.offset_bytes == 0 and not await store.exists(object_key(upload.sha256)):
        return
    try:
        async with upload_lock(engine, uploads_dir, upload.id):
            await finalize(
                database,
                upload,
                store,
                whole=None,
                now=now,
                exif_utc_offset_minutes=exif_utc_offset_minutes,
            )
    except UploadBusy:
        return


async def terminate(
    session,
    database,
    upload: TusUpload,
    store: S3Store,
    engine: AsyncEngine | None,
    uploads_dir: Path,
) -> None:
    """Abort the upload's multipart upload, delete its tail and its rows (423 if busy)."""
    async with upload_lock(engine, uploads_dir, upload.id):
        state = await load_state(database, upload.id)
        if not state.completed:
            await S3Parts(store).forget(upload.id, state.multipart_id)
        await session.execute(delete(TusPart).where(TusPart.upload_id == upload.id))
        await session.execute(delete(TusUpload).where(TusUpload.id == upload.id))
