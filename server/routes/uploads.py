"""Resumable uploads over tus 1.0.0 at /v1/uploads, for stock tus clients.

The protocol lives in `media/tus.py` and `media/completion.py`, reached through the
request's `MediaService`; this layer reads tus headers and puts the tus headers on every
answer, refusals included. Requests stream; a PATCH never holds a database
transaction open while its bytes arrive (only the completing one writes a row).
An upload belongs to the user who created it: anyone else gets 404, as if it were not there.
"""

from __future__ import annotations

from email.utils import format_datetime

from litestar import Controller, Request, Response, delete, head, patch, post, route
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from cases.refusal import Refusal
from media.models import TusUpload
from media.service import MediaService
from media.tus import ADVERTISED_CHECKSUMS, EXTENSIONS, TUS_VERSION
from server.openapi import (
    TUS_CREATE,
    TUS_DELETE,
    TUS_HEAD,
    TUS_OPTIONS,
    TUS_PATCH,
    UploadId,
    errors,
)
from server.routes.media import ClientGone, body_chunks, wake_worker
from server.settings import Settings

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


def tus_error(exc: Refusal) -> Response[None]:
    """Any refusal, with the tus headers every answer carries."""
    return tus_response(exc.status, exc.headers, detail=exc.detail)


def http_date(upload: TusUpload) -> str:
    return format_datetime(upload.expires_at, usegmt=True)


def check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise Refusal("Tus-Resumable", f"required, {TUS_VERSION}", status=412)


class UploadController(Controller):
    path = "/v1/uploads"
    tags = ["uploads (tus 1.0.0)"]

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
        self, request: Request, media: NamedDependency[MediaService]
    ) -> Response[None]:
        try:
            check_version(request)
            if "upload-defer-length" in request.headers:
                raise Refusal("Upload-Defer-Length", "not supported")
            upload = await media.create_upload(
                request.headers.get("upload-length"), request.headers.get("upload-metadata", "")
            )
        except Refusal as exc:
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
        self, request: Request, upload_id: UploadId, media: NamedDependency[MediaService]
    ) -> Response[None]:
        try:
            check_version(request)
            upload = await media.upload(upload_id)
            offset = await media.offset(upload)
        except Refusal as exc:
            return tus_error(exc)
        headers = {
            "Upload-Offset": str(offset),
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
        self, request: Request, upload_id: UploadId, media: NamedDependency[MediaService]
    ) -> Response[None]:
        try:
            check_version(request)
            if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_TYPE:
                raise Refusal("Content-Type", f"must be {OFFSET_TYPE}", status=415)
            upload, new_offset = await media.append(
                upload_id,
                offset_header=request.headers.get("upload-offset"),
                checksum_header=request.headers.get("upload-checksum"),
                chunks=body_chunks(request),
            )
        except Refusal as exc:
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
        self, request: Request, upload_id: UploadId, media: NamedDependency[MediaService]
    ) -> Response[None]:
        try:
            check_version(request)
            await media.terminate(await media.upload(upload_id))
        except Refusal as exc:
            return tus_error(exc)
        return tus_response(204)
