"""The published OpenAPI document where Litestar cannot read it from signatures alone.

Push, media and tus handlers read their bodies and headers themselves (streaming, two
encodings, tus semantics), so what they accept is declared here: raw request bodies, tus
headers, error bodies per status, public operations. Routes name these in their decorators
(`responses=errors(...)`, `operation_class=...`); nothing here changes what is served.
The docs pages load their assets from a pinned package (`swagger-ui-bundle`), not a CDN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import swagger_ui_bundle
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.params import PathParameter
from litestar.static_files import create_static_files_router

from server.errors import ErrorBody

SCHEMA_PATH = "/schema"
ASSETS_PATH = f"{SCHEMA_PATH}/assets"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
UPLOAD_ID_PATTERN = r"^[0-9a-f]{32}$"
TUS_VERSION = "1.0.0"

# What each refusal means across the API; a route may say more for its own.
REASONS = {
    400: "Malformed request: `detail` names the field, `extra` lists each problem",
    401: "No bearer token, or one that is unknown or revoked",
    403: "Valid token, but the wrong role or someone else's case",
    404: "No such resource (or not yours to see)",
    409: "Conflicts with what the server holds",
    410: "The upload has expired",
    412: "Tus-Resumable missing or not 1.0.0",
    413: "Over the size limit",
    415: "Unsupported content type",
    422: "The bytes do not hash to their name, or do not decode as the type they claim",
    423: "Another request is using this upload; retry",
    431: "Request headers too large",
    460: "Upload-Checksum does not match the chunk",
    503: "Storage unavailable (disk full, object store unreachable); retry later",
}


def errors(*codes: int, public: bool = False) -> dict[int, ResponseSpec]:
    """The error responses of an operation, each with the one error body; every operation
    may answer 431, and every non-public one 401."""
    wanted = {*codes, 431} if public else {*codes, 401, 431}
    return {
        code: ResponseSpec(ErrorBody, description=REASONS[code], generate_examples=False)
        for code in sorted(wanted)
    }


def _string(pattern: str | None = None, **extra: object) -> Schema:
    return Schema(type="string", pattern=pattern, **extra)  # type: ignore[arg-type]


def _header(
    description: str, schema: Schema | None = None, required: bool = False
) -> OpenAPIHeader:
    return OpenAPIHeader(schema=schema or _string(), description=description, required=required)


def _header_param(name: str, description: str, schema: Schema, required: bool) -> Parameter:
    return Parameter(
        name=name, param_in="header", schema=schema, description=description, required=required
    )


@dataclass
class PublicOperation(Operation):
    """An operation anyone may call: no bearer token."""

    def __post_init__(self) -> None:
        self.security = []


@dataclass
class BinaryBodyOperation(Operation):
    """`PUT /v1/media/{sha256}`: the raw bytes of a JPEG, PNG, HEIC/HEIF or PDF."""

    def __post_init__(self) -> None:
        binary = OpenAPIMediaType(schema=Schema(type="string", format="binary"))
        self.request_body = RequestBody(
            required=True,
            description="the file's bytes; their SHA-256 must be the path's sha256",
            content={"application/octet-stream": binary},
        )


@dataclass
class PushOperation(Operation):
    """The push body is the same document as JSON or as MessagePack."""

    def __post_init__(self) -> None:
        body = self.request_body
        assert isinstance(body, RequestBody)
        json_body = body.content["application/json"]
        body.content = {
            "application/json": json_body,
            "application/msgpack": OpenAPIMediaType(schema=json_body.schema),
        }


# -- tus 1.0.0 -----------------------------------------------------------------------------

_TUS_RESUMABLE = _string(enum=[TUS_VERSION])
_OFFSET = Schema(type="integer", minimum=0)
_EXPIRES = _header("When the upload expires (an HTTP-date, RFC 9110)")


def _tus_request(*names: str) -> list[Parameter]:
    params = {
        "Tus-Resumable": ("The protocol version", _TUS_RESUMABLE, True),
        "Upload-Length": ("The whole file's size in bytes", _OFFSET, True),
        "Upload-Metadata": (
            "Comma-separated `key base64(value)` pairs: `sha256` (64 hex digits, required) "
            "and `filename`",
            _string(),
            True,
        ),
        "Upload-Offset": ("Where these bytes go: the upload's offset now", _OFFSET, True),
        "Upload-Checksum": (
            "`<algorithm> <base64 digest>` of this chunk (sha1, sha256 or md5)",
            _string(),
            False,
        ),
        "Content-Type": ("application/offset+octet-stream", _string(enum=[OFFSET_TYPE]), True),
    }
    return [_header_param(name, *params[name]) for name in names]


OFFSET_TYPE = "application/offset+octet-stream"


def _tus_operation(
    request_headers: tuple[str, ...],
    success_headers: dict[str, OpenAPIHeader],
    body: bool = False,
    public: bool = False,
    head: bool = False,
) -> type[Operation]:
    """An Operation documenting a tus request's headers, its answers' headers and body."""

    @dataclass
    class TusOperation(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), *_tus_request(*request_headers)]
            for status, response in (self.responses or {}).items():
                assert isinstance(response, OpenAPIResponse)
                headers = dict(response.headers or {})
                headers["Tus-Resumable"] = _header("Always 1.0.0", _TUS_RESUMABLE, True)
                if status.startswith("2"):
                    headers.update(success_headers)
                response.headers = headers
                if head:  # a HEAD answer has no body
                    response.content = None
            if body:
                chunk = OpenAPIMediaType(schema=Schema(type="string", format="binary"))
                self.request_body = RequestBody(
                    required=True, description="the next bytes", content={OFFSET_TYPE: chunk}
                )
            if public:
                self.security = []

    return TusOperation


TUS_OPTIONS = _tus_operation(
    (),
    {
        "Tus-Version": _header("Supported versions: 1.0.0"),
        "Tus-Extension": _header("creation, checksum, termination, expiration"),
        "Tus-Checksum-Algorithm": _header("Accepted Upload-Checksum algorithms"),
        "Tus-Max-Size": _header("Largest Upload-Length accepted, in bytes", _OFFSET),
    },
    public=True,
)
TUS_CREATE = _tus_operation(
    ("Tus-Resumable", "Upload-Length", "Upload-Metadata"),
    {
        "Location": _header("The new upload's URL, /v1/uploads/{upload_id}", required=True),
        "Upload-Expires": _EXPIRES,
    },
)
TUS_HEAD = _tus_operation(
    ("Tus-Resumable",),
    {
        "Upload-Offset": _header("Bytes received so far", _OFFSET, True),
        "Upload-Length": _header("The whole file's size", _OFFSET, True),
        "Upload-Metadata": _header("As given at creation"),
        "Upload-Expires": _EXPIRES,
        "Cache-Control": _header("no-store"),
    },
    head=True,
)
TUS_PATCH = _tus_operation(
    ("Tus-Resumable", "Upload-Offset", "Upload-Checksum"),
    {"Upload-Offset": _header("The new offset", _OFFSET, True), "Upload-Expires": _EXPIRES},
    body=True,
)
TUS_DELETE = _tus_operation(("Tus-Resumable",), {})


# -- the document and its pages ---------------------------------------------------------

_SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


def openapi_config() -> OpenAPIConfig:
    """The document at /schema/openapi.json and Swagger UI at /schema, all served locally."""
    swagger = SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="kancha",
        version="1",
        description="Motor-claim field survey backend: wire contract v1.",
        path=SCHEMA_PATH,
        render_plugins=[swagger, JsonRenderPlugin()],
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
        ),
        security=[{"bearer": []}],
    )


def docs_assets_router():  # type: ignore[no-untyped-def]
    """Swagger UI's JS, CSS and icons from the pinned swagger-ui-bundle package."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[_SWAGGER_DIR], include_in_schema=False, name="docs-assets"
    )


# -- path parameters ------------------------------------------------------------------------

Sha256 = Annotated[
    str, PathParameter(pattern=SHA256_PATTERN, description="SHA-256 of the bytes, lowercase hex")
]
# Documented, not enforced: an id that cannot exist is a plain 404, as tus clients expect.
UploadId = Annotated[
    str,
    PathParameter(
        schema_extra={"pattern": UPLOAD_ID_PATTERN}, description="from the creation's Location"
    ),
]
