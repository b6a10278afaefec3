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
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect

from cases.refusal import Refusal
from cases.values import Location
from media.catalog import CaseMedia
from media.ingest import check_sha256, too_large
from media.service import MediaService, Served
from server.openapi import BinaryBodyOperation, Sha256, errors
from server.routes.cases import ensure_case_visible

IMMUTABLE = "private, max-age=31536000, immutable"


class ClientGone(Exception):
    """The client hung up mid-body (not a refusal: nobody is left to hear one)."""


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a cut connection becomes ClientGone."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except InternalServerException as exc:  # how Litestar reports http.disconnect
        raise ClientGone(str(exc)) from None


def announced_length(request: Request, max_bytes: int) -> None:
    value = request.headers.get("content-length")
    if value is not None and value.isdigit() and int(value) > max_bytes:
        raise too_large(max_bytes)


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


class NearDuplicateItem(msgspec.Struct, kw_only=True):
    """A photo on another case whose perceptual hash is `distance` bits (of 64) away."""

    case_id: str
    sha256: str
    distance: int


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
    # Near-duplicates on other cases, nearest first (desk only, like other_cases).
    near_duplicates: list[NearDuplicateItem]
    # Why a flag was raised, in words, for the flags that carry a reason.
    reasons: dict[str, str]


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
        near_duplicates=[
            NearDuplicateItem(case_id=n.case_id, sha256=n.sha256, distance=n.distance)
            for n in item.near_duplicates
        ],
        reasons=item.reasons,
    )


BINARY = ResponseSpec(None, description="the bytes", media_type="application/octet-stream")


class MediaController(Controller):
    path = "/v1"
    tags = ["media"]

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
        self, request: Request, sha256: Sha256, media: NamedDependency[MediaService]
    ) -> Response[MediaStored]:
        check_sha256(sha256)
        announced_length(request, media.settings.max_media_bytes)
        try:
            stored = await media.held(sha256)
            if stored is None:
                stored = await media.put(sha256, body_chunks(request))
            elif not expects_continue(request):
                # Answer before the body only to a client waiting for 100 Continue: any
                # other is sending it, and would see the connection reset under an early
                # answer.
                await media.drop(body_chunks(request))
        except ClientGone:
            raise Refusal("", "body: cut off") from None
        return Response(
            msgspec.convert(stored, MediaStored, from_attributes=True),
            status_code=201 if stored.created else 200,
        )

    @get(
        "/cases/{case_id:uuid}/media",
        summary="A case's media, with EXIF facts and flags",
        description=(
            "Flags: far_from_scene, taken_before_report, reused_on_other_case, "
            "exif_time_invalid, exif_gps_invalid, and held: referenced only by held packets "
            "(an irregular report) that have not joined the timeline (no dispatch to their "
            "sender within the irregular window yet); the flag goes once they join."
        ),
        responses=errors(400, 403, 404),
    )
    async def case_media(
        self, case_id: FromPath[UUID], media: NamedDependency[MediaService]
    ) -> CaseMediaView:
        case = await media.case(str(case_id))
        ensure_case_visible(media.user, case)
        listing = await media.case_media(case)
        items = [media_item(item) for item in listing.items]
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
        self, sha256: Sha256, media: NamedDependency[MediaService]
    ) -> Response[bytes]:
        return serve(await media.original(sha256))

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
        media: NamedDependency[MediaService],
        size: FromQuery[Literal["small", "screen"]] = "small",
    ) -> Response[bytes]:
        return serve(await media.thumbnail(sha256, size))


def serve(served: Served) -> Response[bytes]:
    """A local file streamed inline, else a redirect to the store's signed URL."""
    if served.path is not None:
        return File(  # type: ignore[return-value]
            path=served.path,
            media_type=served.content_type,
            content_disposition_type="inline",
            headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
            etag=None,
        )
    return Redirect(  # type: ignore[return-value]
        path=served.url or "",
        status_code=307,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        media_type="text/plain",
    )
