"""One request's media: what the handlers of `/v1/media` and `/v1/uploads` call.

Built per request from the request's session, the app's media runtime (store, uploads
folder, thumbnail worker), the media settings, the clock and the caller; it knows nothing
of HTTP. Refusals are raised as `Refusal`; answering them is the server's business.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from cases.clock import Clock
from cases.dispatch import load_case
from cases.models import Case, User
from cases.refusal import Conflict, Forbidden, NotFound
from media import completion, tus, tus_lock, tus_s3, tus_s3_finish
from media.catalog import CaseMediaList, case_media, may_read
from media.fraud_flags import PhotoChecks
from media.images import MediaFacts
from media.ingest import accept, check_sha256, discard, held, held_facts, receive, record
from media.models import MediaObject, ThumbnailJob, TusUpload
from media.runtime import MediaRuntime
from media.store import S3Store, Variant, object_key


class MediaSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The settings media reads (named as in the server's settings, converted from them)."""

    max_media_bytes: int
    exif_utc_offset_minutes: int
    upload_expiry_seconds: int
    photo_max_distance_m: float
    photo_max_age_seconds: int
    phash_distance: int
    exif_time_seconds: int
    exif_gps_metres: float
    signed_url_seconds: int
    # A held packet's media join the case's gallery as its events join the timeline.
    irregular_window_seconds: int

    @classmethod
    def of(cls, settings: Any) -> MediaSettings:
        return msgspec.convert(settings, cls, from_attributes=True)


class Sessions(Protocol):
    """The database, as far as media needs it: sessions of its own besides the request's."""

    def session(self, *, write: bool = True) -> AsyncSession: ...


@dataclass(frozen=True)
class Stored:
    """An object held: its hash, size and type; `created` if this request stored it."""

    sha256: str
    bytes: int
    content_type: str
    created: bool


@dataclass(frozen=True)
class Staged:
    """Bytes checked and in the store, not recorded yet."""

    sha256: str
    size: int
    facts: MediaFacts


@dataclass(frozen=True)
class Served:
    """Where a client reads an object: a local file, or else a short-lived signed URL."""

    content_type: str
    path: Path | None = None
    url: str | None = None


class MediaService:
    def __init__(
        self,
        session: AsyncSession,
        database: Sessions,
        runtime: MediaRuntime,
        settings: MediaSettings,
        clock: Clock,
        user: User,
    ) -> None:
        self.session = session
        self.database = database
        self.runtime = runtime
        self.settings = settings
        self.clock = clock
        self.user = user

    # -- PUT /v1/media/{sha256} ----------------------------------------------------------

    async def held(self, sha256: str) -> Stored | None:
        """The object if held, read on a connection of its own (one statement, no session):
        the request's (writing) transaction must not stay open while a body streams in, and
        a tablet re-sending what is held is answered on this read alone."""
        async with self.database.one_read() as conn:
            found = await held_facts(conn, sha256)
        if found is None:
            return None
        return Stored(sha256, *found, created=False)

    async def drop(self, chunks: AsyncIterable[bytes]) -> None:
        """Read a body through (within the size limit) and keep none of it."""
        await discard(chunks, self.settings.max_media_bytes)

    async def put(self, sha256: str, chunks: AsyncIterable[bytes]) -> Stored:
        """Spool, check and store a body named by its hash, then record it."""
        store = self.runtime.store
        with self.runtime.worker.upload():
            received = await receive(chunks, store.staging_dir, self.settings.max_media_bytes)
            facts = await accept(received, sha256, store, self.settings.exif_utc_offset_minutes)
        created = await record(self.session, sha256, received.size, facts, self.clock.now())
        return Stored(sha256, received.size, facts.content_type, created)

    async def stage_unnamed(self, chunks: AsyncIterable[bytes]) -> Staged:
        """The same as `put` for a body whose hash is known only once read (an attachment
        of an ODK Collect submission), up to storing the bytes under the SHA-256 they hash
        to; `record_staged` then records them, in the caller's transaction."""
        store = self.runtime.store
        with self.runtime.worker.upload():
            received = await receive(chunks, store.staging_dir, self.settings.max_media_bytes)
            sha256 = received.sha256
            facts = await accept(received, sha256, store, self.settings.exif_utc_offset_minutes)
        return Staged(sha256, received.size, facts)

    async def record_staged(self, session: AsyncSession, staged: Staged) -> Stored:
        created = await record(session, staged.sha256, staged.size, staged.facts, self.clock.now())
        return Stored(staged.sha256, staged.size, staged.facts.content_type, created)

    # -- reading -------------------------------------------------------------------------

    async def case(self, case_id: str) -> Case:
        return await load_case(self.session, case_id)

    async def case_media(self, case: Case) -> CaseMediaList:
        """A case's media with their flags; which other cases hold the bytes is for the
        desk only."""
        listing = await case_media(
            self.session,
            case,
            max_distance_m=self.settings.photo_max_distance_m,
            max_age_seconds=self.settings.photo_max_age_seconds,
            irregular_window=timedelta(seconds=self.settings.irregular_window_seconds),
            checks=PhotoChecks(
                max_distance_m=self.settings.photo_max_distance_m,
                max_age_seconds=self.settings.photo_max_age_seconds,
                phash_distance=self.settings.phash_distance,
                exif_time_seconds=self.settings.exif_time_seconds,
                exif_gps_metres=self.settings.exif_gps_metres,
            ),
        )
        if self.user.role == "surveyor":
            for item in listing.items:
                item.other_cases = []
                item.near_duplicates = []
        return listing

    async def original(self, sha256: str) -> Served:
        row = await self._readable(sha256)
        return await self._serve(object_key(sha256), row.content_type)

    async def thumbnail(self, sha256: str, variant: Variant) -> Served:
        await self._readable(sha256)
        job = await self.session.get(ThumbnailJob, sha256)
        if job is None or job.status != "done":
            state = "not made yet" if job and job.status == "pending" else "not available"
            raise NotFound("", f"thumbnail of {sha256}: {state}")
        return await self._serve(object_key(sha256, variant), "image/jpeg")

    async def _readable(self, sha256: str) -> MediaObject:
        check_sha256(sha256)
        if not await may_read(self.session, self.user, sha256):
            raise Forbidden("", "no case of yours references this media")
        row = await held(self.session, sha256)
        if row is None:
            raise NotFound("", f"no media with sha256 {sha256}")
        return row

    async def _serve(self, key: str, content_type: str) -> Served:
        store = self.runtime.store
        path = store.local_path(key)
        if path is not None:
            if not path.is_file():
                raise NotFound("", "the stored object is missing")
            return Served(content_type, path=path)
        url = await store.signed_url(key, self.settings.signed_url_seconds, content_type)
        return Served(content_type, url=url or "")

    # -- tus -----------------------------------------------------------------------------

    async def create_upload(self, length_header: str | None, metadata_header: str) -> TusUpload:
        return await tus.create_upload(
            self.session,
            owner_id=self.user.id,
            length_header=length_header,
            metadata_header=metadata_header,
            max_bytes=self.settings.max_media_bytes,
            now=self.clock.now(),
            expiry_seconds=self.settings.upload_expiry_seconds,
        )

    async def upload(self, upload_id: str) -> TusUpload:
        """The caller's upload (404 for anyone else's, 410 once expired)."""
        return await tus.find_upload(self.session, upload_id, user=self.user, now=self.clock.now())

    @property
    def s3(self) -> S3Store | None:
        """The store when it is S3: tus uploads then live in S3 and the database."""
        store = self.runtime.store
        return store if isinstance(store, S3Store) else None

    async def offset(self, upload: TusUpload) -> int:
        """Its offset, completing it first if a crash (or a failed store) left it full."""
        uploads_dir = self.runtime.uploads_dir
        if (s3 := self.s3) is not None:
            if tus_s3_finish.needs_finalizing(upload):
                await tus_s3_finish.recover(
                    upload,
                    self.database,
                    self.runtime.locks,
                    uploads_dir,
                    s3,
                    now=self.clock.now(),
                    exif_utc_offset_minutes=self.settings.exif_utc_offset_minutes,
                )
            return tus_s3_finish.offset_of(upload)
        if completion.needs_finalizing(upload, uploads_dir):
            await completion.recover(
                upload,
                self.database.session,
                uploads_dir,
                self.runtime.store,
                now=self.clock.now,
                exif_utc_offset_minutes=self.settings.exif_utc_offset_minutes,
            )
        return tus.offset_of(upload, uploads_dir)

    async def append(
        self,
        upload_id: str,
        *,
        offset_header: str | None,
        checksum_header: str | None,
        chunks: AsyncIterable[bytes],
    ) -> tuple[TusUpload, int]:
        """Write one PATCH body; the one bringing the last byte lands the file like a PUT.
        No transaction is open while the bytes arrive (the upload is read in a session of
        its own); only completing writes, in the request's session. The new offset."""
        async with self.database.session(write=False) as session:
            upload = await tus.find_upload(session, upload_id, user=self.user, now=self.clock.now())
        if upload.completed_at is not None:
            raise Conflict("", f"upload {upload_id}: already complete")
        uploads_dir = self.runtime.uploads_dir
        if (s3 := self.s3) is not None:
            return upload, await self._append_s3(upload, s3, offset_header, checksum_header, chunks)
        with self.runtime.worker.upload():
            appended = await tus.append(
                upload,
                uploads_dir,
                offset_header=offset_header,
                checksum_header=checksum_header,
                chunks=chunks,
            )
        if appended.offset == upload.length:
            await completion.finalize(
                self.session,
                upload,
                uploads_dir,
                self.runtime.store,
                now=self.clock.now(),
                exif_utc_offset_minutes=self.settings.exif_utc_offset_minutes,
                hashed=appended.sha256,
            )
        return upload, appended.offset

    async def _append_s3(
        self,
        upload: TusUpload,
        s3: S3Store,
        offset_header: str | None,
        checksum_header: str | None,
        chunks: AsyncIterable[bytes],
    ) -> int:
        """As `append`, on S3: state and completion commit in sessions of their own (what
        a PATCH acknowledged must hold whatever the answer), the request's is not used."""
        uploads_dir = self.runtime.uploads_dir
        engine = self.runtime.locks
        offset, checksum = tus_s3.parse_headers(offset_header, checksum_header)
        async with tus_lock.upload_lock(engine, uploads_dir, upload.id):
            with self.runtime.worker.upload():
                new_offset, whole = await tus_s3.append(
                    upload,
                    database=self.database,
                    store=s3,
                    offset=offset,
                    checksum=checksum,
                    chunks=chunks,
                )
            if new_offset == upload.length:
                await tus_s3_finish.finalize(
                    self.database,
                    upload,
                    s3,
                    whole=whole,
                    now=self.clock.now(),
                    exif_utc_offset_minutes=self.settings.exif_utc_offset_minutes,
                )
        return new_offset

    async def terminate(self, upload: TusUpload) -> None:
        if (s3 := self.s3) is not None:
            await tus_s3_finish.terminate(
                self.session,
                self.database,
                upload,
                s3,
                self.runtime.locks,
                self.runtime.uploads_dir,
            )
            return
        await tus.terminate(self.session, upload, self.runtime.uploads_dir)
