"""Resumable uploads over tus 1.0.0 at /v1/uploads, for stock tus clients.

The protocol lives in `media/tus.py`; this layer reads tus headers, authorises, and puts
the tus headers on every answer. Requests stream; a PATCH never holds a database
transaction open while its bytes arrive (only the completing one writes a row).
An upload belongs to the user who created it: anyone else gets 404, as if it were not there.
"""

from __future__ import annotations

import logging
import re
from email.utils import format_datetime

from litestar import Controller, Request, Response, delete, head, patch, post, route
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from cases.clock import Clock
from cases.models import User
from media.ingest import MediaRefused
from media.models import TusUpload
from media.service import MediaService
from media.tus import (
    ADVERTISED_CHECKSUMS,
    EXTENSIONS,
    TUS_VERSION,
    TusError,
    append,
    create_upload,
    finalize,
    is_expired,
    needs_finalizing,
    offset_of,
    terminate,
)
from server.db import Database
from server.openapi import (
    TUS_CREATE,
    TUS_DELETE,
    TUS_HEAD,
    TUS_OPTIONS,
    TUS_PATCH,
    UploadId,
    errors,
)
from server.routes.media import ClientGone, body_chunks, provide_media, wake_worker
from server.settings import Settings

logger = logging.getLogger("kancha.uploads")
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
OFFSET_TYPE = "application/offset+octet-stream"


def tus_response(
    status: int, headers: dict[str, str] | None = None, detail: str = ""
) -> Response[None]:
    all_headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
    all_headers.update(headers or {})
    if detail:
        body = {"status_code": status, "detail": detail}
        return Response(body, status_code=status, headers=all_headers)
    return Response(None, status_code=status, headers=all_headers)


def tus_error(exc: TusError | MediaRefused) -> Response[None]:
    if isinstance(exc, MediaRefused):
        return tus_response(exc.status, detail=f"{exc.field}: {exc.message}")
    return tus_response(exc.status, detail=exc.message)


def completion_failed(upload: TusUpload, exc: Exception) -> Response[None]:
    """All bytes are in but storing them failed (not a refusal): 503, offset kept, so a
    stock client retries, and its HEAD completes the upload once the cause is gone."""
    logger.error("completing upload %s failed", upload.id, exc_info=exc)
    # The cause without paths or internals (those are in the log).
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    detail = (
        f"upload: all {upload.length} bytes are kept, but storing them failed ({reason}); "
        "HEAD again to finish"
    )
    return tus_response(503, {"Retry-After": "10"}, detail=detail)


def http_date(upload: TusUpload) -> str:
    return format_datetime(upload.expires_at, usegmt=True)


def check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise TusError(412, f"Tus-Resumable: required, {TUS_VERSION}")


async def find_upload(session: AsyncSession, user: User, upload_id: str, clock: Clock) -> TusUpload:
    upload = await session.get(TusUpload, upload_id) if UPLOAD_ID.fullmatch(upload_id) else None
    if upload is None or (upload.owner_id != user.id and user.role != "admin"):
        raise TusError(404, f"upload {upload_id[:40]!r}: not found")
    if is_expired(upload, clock.now()):
        raise TusError(410, f"upload {upload_id}: expired")
    return upload


class UploadController(Controller):
    path = "/v1/uploads"
    tags = ["uploads (tus 1.0.0)"]
    dependencies = {"media": Provide(provide_media, sync_to_thread=False)}

    # Named to sort before `create`: Litestar registers a controller's handlers by name, and
    # an OPTIONS handler registered after another on the same path loses to its automatic one.
    @route(
        "/",
        http_method="OPTIONS",
        status_code=204,
        exclude_from_auth=True,
        summary="tus discovery: version, extensions, checksum algorithms, size limit",
        operation_class=TUS_OPTIONS,
        responses=errors(public=True),
    )
    async def advertise(self, settings: NamedDependency[Settings]) -> Response[None]:
        return tus_response(
            204,
            {
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Checksum-Algorithm": ADVERTISED_CHECKSUMS,
                "Tus-Max-Size": str(settings.max_media_bytes),
            },
        )

    @post(
        "/",
        status_code=201,
        summary="tus creation: Upload-Length and Upload-Metadata (sha256, filename)",
        responses={
            201: ResponseSpec(None, description="created; Location names the upload"),
            **errors(400, 412, 413),
        },
        operation_class=TUS_CREATE,
    )
    async def create(
        self,
        request: Request,
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> Response[None]:
        try:
            check_version(request)
            if "upload-defer-length" in request.headers:
                raise TusError(400, "Upload-Defer-Length: not supported")
            upload = await create_upload(
                db_session,
                owner_id=user.id,
                length_header=request.headers.get("upload-length"),
                metadata_header=request.headers.get("upload-metadata", ""),
                max_bytes=settings.max_media_bytes,
                now=clock.now(),
                expiry_seconds=settings.upload_expiry_seconds,
            )
        except TusError as exc:
            return tus_error(exc)
        return tus_response(
            201, {"Location": f"/v1/uploads/{upload.id}", "Upload-Expires": http_date(upload)}
        )

    @head(
        "/{upload_id:str}",
        summary="tus: the upload's offset",
        status_code=200,
        operation_class=TUS_HEAD,
        responses=errors(400, 404, 410, 412, 415, 422, 503),
    )
    async def offset(
        self,
        request: Request,
        upload_id: UploadId,
        db_session: NamedDependency[AsyncSession],
        database: NamedDependency[Database],
        user: NamedDependency[User],
        media: NamedDependency[MediaService],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> Response[None]:
        try:
            check_version(request)
            upload = await find_upload(db_session, user, upload_id, clock)
            if needs_finalizing(upload, media.uploads_dir):
                try:
                    await _recover(upload, database, media, settings, clock)
                except TusError as exc:
                    if exc.status != 423:  # busy: the request holding it is completing it
                        raise
                except MediaRefused:
                    raise
                except Exception as exc:  # the bytes are kept: the client may HEAD again
                    return completion_failed(upload, exc)
        except (TusError, MediaRefused) as exc:
            return tus_error(exc)
        headers = {
            "Upload-Offset": str(offset_of(upload, media.uploads_dir)),
            "Upload-Length": str(upload.length),
            "Upload-Expires": http_date(upload),
        }
        if upload.metadata_header:
            headers["Upload-Metadata"] = upload.metadata_header
        return tus_response(200, headers)

    @patch(
        "/{upload_id:str}",
        status_code=204,
        request_max_body_size=None,
        after_response=wake_worker,
        summary="tus: append bytes at Upload-Offset (application/offset+octet-stream)",
        description=(
            "Upload-Checksum (sha1, sha256, md5) is verified: a mismatch is 460, a malformed "
            "value 400. The PATCH that brings the last byte lands the file like a PUT (415 "
            "or 422 if refused); if storing it fails otherwise, 503 and the bytes are kept: "
            "HEAD finishes it."
        ),
        operation_class=TUS_PATCH,
        responses=errors(400, 404, 409, 410, 412, 413, 415, 422, 423, 460, 503),
    )
    async def append(
        self,
        request: Request,
        upload_id: UploadId,
        database: NamedDependency[Database],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        media: NamedDependency[MediaService],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> Response[None]:
        try:
            check_version(request)
            if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_TYPE:
                raise TusError(415, f"Content-Type: must be {OFFSET_TYPE}")
            async with database.session(write=False) as session:  # no lock held while streaming
                upload = await find_upload(session, user, upload_id, clock)
            if upload.completed_at is not None:
                raise TusError(409, f"upload {upload_id}: already complete")
            with media.worker.upload():
                new_offset = await append(
                    upload,
                    media.uploads_dir,
                    offset_header=request.headers.get("upload-offset"),
                    checksum_header=request.headers.get("upload-checksum"),
                    chunks=body_chunks(request),
                )
            if new_offset == upload.length:
                try:
                    await finalize(
                        db_session,
                        upload,
                        media.uploads_dir,
                        media.store,
                        now=clock.now(),
                        exif_utc_offset_minutes=settings.exif_utc_offset_minutes,
                    )
                except (TusError, MediaRefused):
                    raise
                except Exception as exc:  # the bytes are kept: HEAD (or PATCH) finishes it
                    return completion_failed(upload, exc)
        except (TusError, MediaRefused) as exc:
            return tus_error(exc)
        except ClientGone:
            return tus_response(400, detail="body: cut off; HEAD for the offset kept")
        return tus_response(
            204, {"Upload-Offset": str(new_offset), "Upload-Expires": http_date(upload)}
        )

    @delete(
        "/{upload_id:str}",
        status_code=204,
        summary="tus termination",
        operation_class=TUS_DELETE,
        responses=errors(400, 404, 410, 412, 423),
    )
    async def terminate(
        self,
        request: Request,
        upload_id: UploadId,
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        media: NamedDependency[MediaService],
        clock: NamedDependency[Clock],
    ) -> Response[None]:
        try:
            check_version(request)
            upload = await find_upload(db_session, user, upload_id, clock)
            await terminate(db_session, upload, media.uploads_dir)
        except TusError as exc:
            return tus_error(exc)
        return tus_response(204)


async def _recover(
    upload: TusUpload, database: Database, media: MediaService, settings: Settings, clock: Clock
) -> None:
    """A full upload whose completion never committed (a crash): complete it now."""
    async with database.session() as session:
        fresh = await session.get(TusUpload, upload.id)
        if fresh is None or fresh.completed_at is not None:
            return
        await finalize(
            session,
            fresh,
            media.uploads_dir,
            media.store,
            now=clock.now(),
            exif_utc_offset_minutes=settings.exif_utc_offset_minutes,
        )
        await session.commit()
        # Not an attribute change: the request's own (read) session must not write it again.
        set_committed_value(upload, "completed_at", fresh.completed_at)
