"""Media (surveyor tablet and desk): upload by content hash, list a case's media, read it.

Bodies are streamed, never loaded: the app-wide 1 MiB limit is lifted here and the media
limit enforced while the bytes arrive. Originals and thumbnails come from disk, or as a
redirect to a short-lived SigV4 URL when the store is S3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import (
    HTTPException,
    InternalServerException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from cases.clock import Clock
from cases.dispatch import load_case
from cases.models import User
from cases.values import Location
from media.catalog import CaseMedia, case_media, may_read
from media.ingest import MediaRefused, accept, discard, held, receive, record, too_large
from media.models import ThumbnailJob
from media.service import MediaService
from media.store import SHA256_HEX, Variant, object_key
from server.db import Database
from server.errors import FieldError
from server.openapi import BinaryBodyOperation, Sha256, errors
from server.routes.cases import ensure_case_visible
from server.settings import Settings

IMMUTABLE = "private, max-age=31536000, immutable"


class ClientGone(Exception):
    """The client hung up mid-body."""


def provide_media(request: Request) -> MediaService:
    return request.app.state.media


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a cut connection becomes ClientGone."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except InternalServerException as exc:  # how Litestar reports http.disconnect
        raise ClientGone(str(exc)) from None


def check_sha256(sha256: str) -> str:
    if not SHA256_HEX.fullmatch(sha256):
        raise FieldError("sha256", "expected 64 lowercase hex digits")
    return sha256


def refused(exc: MediaRefused) -> FieldError:
    return FieldError(exc.field, exc.message, exc.status)


def announced_length(request: Request, max_bytes: int) -> None:
    value = request.headers.get("content-length")
    if value is not None and value.isdigit() and int(value) > max_bytes:
        raise refused(too_large(max_bytes))


def expects_continue(request: Request) -> bool:
    return request.headers.get("expect", "").strip().lower() == "100-continue"


async def wake_worker(request: Request) -> None:
    """After the response (so after the commit): new thumbnail jobs can be taken."""
    request.app.state.media.worker.wake()


class MediaStored(msgspec.Struct, kw_only=True):
    sha256: str
    bytes: int
    content_type: str
    created: bool


class MediaItem(msgspec.Struct, kw_only=True):
    sha256: str
    category: str | None
    content_type: str
    taken_at: datetime | None
    gps: Location | None
    width: int | None
    height: int | None
    bytes: int
    url: str
    thumbnail_url: str | None
    screen_url: str | None
    flags: list[str]
    distance_m: float | None
    other_cases: list[str]


class CaseMediaView(msgspec.Struct, kw_only=True):
    case_id: str
    items: list[MediaItem]
    missing: list[str]


def media_item(item: CaseMedia) -> MediaItem:
    media = item.media
    base = f"/v1/media/{media.sha256}"
    gps = None
    if media.lat is not None and media.lon is not None:
        gps = Location(lat=media.lat, lon=media.lon)
    return MediaItem(
        sha256=media.sha256,
        category=item.category,
        content_type=media.content_type,
        taken_at=media.taken_at,
        gps=gps,
        width=media.width,
        height=media.height,
        bytes=media.size_bytes,
        url=base,
        thumbnail_url=f"{base}/thumbnail" if item.thumbnails else None,
        screen_url=f"{base}/thumbnail?size=screen" if item.thumbnails else None,
        flags=item.flags,
        distance_m=item.distance_m,
        other_cases=item.other_cases,
    )


BINARY = ResponseSpec(None, description="the bytes", media_type="application/octet-stream")


class MediaController(Controller):
    path = "/v1"
    tags = ["media"]
    dependencies = {"media": Provide(provide_media, sync_to_thread=False)}

    @put(
        "/media/{sha256:str}",
        status_code=201,
        request_max_body_size=None,
        after_response=wake_worker,
        summary="Upload a photo or document named by its SHA-256 (raw bytes, streamed)",
        description=(
            "201 stored, 200 already held (answered before the body to `Expect: "
            "100-continue`, else after reading and dropping it), 422 hash mismatch, "
            "truncated or corrupt file or decompression bomb, 415 not JPEG/PNG/HEIC/HEIF/PDF, "
            "413 over the size limit."
        ),
        responses={
            200: ResponseSpec(MediaStored, description="already held", generate_examples=False),
            **errors(400, 413, 415, 422, 503),
        },
        operation_class=BinaryBodyOperation,
    )
    async def upload(
        self,
        request: Request,
        sha256: Sha256,
        database: NamedDependency[Database],
        db_session: NamedDependency[AsyncSession],
        media: NamedDependency[MediaService],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> Response[MediaStored]:
        check_sha256(sha256)
        announced_length(request, settings.max_media_bytes)
        # A short read session: the write transaction must not stay open while bytes flow.
        async with database.session(write=False) as session:
            existing = await held(session, sha256)
        if existing is not None:
            # Answer before the body only to a client waiting for 100 Continue: any other
            # is sending it, and would see the connection reset under an early answer.
            if not expects_continue(request):
                try:
                    await discard(body_chunks(request), settings.max_media_bytes)
                except MediaRefused as exc:
                    raise refused(exc) from None
                except ClientGone:
                    raise HTTPException(status_code=400, detail="body: cut off") from None
            return Response(
                MediaStored(
                    sha256=sha256,
                    bytes=existing.size_bytes,
                    content_type=existing.content_type,
                    created=False,
                ),
                status_code=200,
            )
        try:
            with media.worker.upload():
                received = await receive(
                    body_chunks(request), media.store.staging_dir, settings.max_media_bytes
                )
                facts = await accept(
                    received, sha256, media.store, settings.exif_utc_offset_minutes
                )
        except MediaRefused as exc:
            raise refused(exc) from None
        except ClientGone:
            raise HTTPException(status_code=400, detail="body: cut off") from None
        created = await record(db_session, sha256, received.size, facts, clock.now())
        return Response(
            MediaStored(
                sha256=sha256,
                bytes=received.size,
                content_type=facts.content_type,
                created=created,
            ),
            status_code=201 if created else 200,
        )

    @get(
        "/cases/{case_id:uuid}/media",
        summary="A case's media, with EXIF facts and flags",
        responses=errors(400, 403, 404),
    )
    async def case_media(
        self,
        case_id: FromPath[UUID],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        settings: NamedDependency[Settings],
    ) -> CaseMediaView:
        case = await load_case(db_session, str(case_id))
        ensure_case_visible(user, case)
        listing = await case_media(
            db_session,
            case,
            max_distance_m=settings.photo_max_distance_m,
            max_age_seconds=settings.photo_max_age_seconds,
        )
        items = [media_item(item) for item in listing.items]
        if user.role == "surveyor":  # which other cases hold the bytes is for the desk only
            for item in items:
                item.other_cases = []
        return CaseMediaView(case_id=case.id, items=items, missing=listing.missing)

    @get(
        "/media/{sha256:str}",
        summary="The original bytes, or a redirect to a short-lived signed URL",
        responses={
            307: ResponseSpec(None, description="redirect to a presigned URL"),
            **errors(400, 403, 404, 503),
        },
        media_type="application/octet-stream",
    )
    async def original(
        self,
        sha256: Sha256,
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        media: NamedDependency[MediaService],
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        row = await self._readable(db_session, user, sha256)
        return await _serve(media, settings, object_key(sha256), row.content_type)

    @get(
        "/media/{sha256:str}/thumbnail",
        summary="A JPEG thumbnail: small (list) or screen-sized",
        responses={
            307: ResponseSpec(None, description="redirect to a presigned URL"),
            **errors(400, 403, 404, 503),
        },
        media_type="image/jpeg",
    )
    async def thumbnail(
        self,
        sha256: Sha256,
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        media: NamedDependency[MediaService],
        settings: NamedDependency[Settings],
        size: FromQuery[Literal["small", "screen"]] = "small",
    ) -> Response[bytes]:
        await self._readable(db_session, user, sha256)
        job = await db_session.get(ThumbnailJob, sha256)
        if job is None or job.status != "done":
            state = "not made yet" if job and job.status == "pending" else "not available"
            raise NotFoundException(f"thumbnail of {sha256}: {state}")
        variant: Variant = size
        return await _serve(media, settings, object_key(sha256, variant), "image/jpeg")

    @staticmethod
    async def _readable(session: AsyncSession, user: User, sha256: str):  # type: ignore[no-untyped-def]
        check_sha256(sha256)
        if not await may_read(session, user, sha256):
            raise PermissionDeniedException("no case of yours references this media")
        row = await held(session, sha256)
        if row is None:
            raise NotFoundException(f"no media with sha256 {sha256}")
        return row


async def _serve(
    media: MediaService, settings: Settings, key: str, content_type: str
) -> Response[bytes]:
    path = media.store.local_path(key)
    if path is not None:
        if not path.is_file():
            raise NotFoundException("the stored object is missing")
        return File(  # type: ignore[return-value]
            path=path,
            media_type=content_type,
            content_disposition_type="inline",
            headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
            etag=None,
        )
    url = await media.store.signed_url(key, settings.signed_url_seconds, content_type)
    return Redirect(  # type: ignore[return-value]
        path=url or "",
        status_code=307,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        media_type="text/plain",
    )
