"""Error responses: every refusal names what is wrong, and nothing malformed becomes a 5xx."""

from __future__ import annotations

import errno
import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from cases.refusal import Refusal
from media.store import StoreUnavailable
from server.desk.errors import desk_error, is_desk

logger = logging.getLogger("kancha")


def _error(status: int, detail: str, extra: Any = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    if extra:
        body["extra"] = extra
    return Response(body, status_code=status, media_type=MediaType.JSON)


def validation_error(_: Request, exc: ValidationException) -> Response[dict[str, Any]]:
    """Lead the message with the field, e.g. `location.lat: Expected float <= 90.0`."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for item in extra:
        if isinstance(item, dict) and item.get("key"):
            parts.append(f"{item['key']}: {item.get('message', 'invalid')}")
        elif isinstance(item, dict) and item.get("message"):
            parts.append(str(item["message"]))
    detail = "; ".join(parts) or exc.detail
    return _error(HTTP_400_BAD_REQUEST, detail, extra or None)


def http_error(request: Request, exc: Exception) -> Response[Any]:
    """HTTP errors as Litestar shapes them; anything unexpected is logged, then a bare 500.
    On desk pages a 401, 403 or 404 is a page (server/desk/errors.py)."""
    if isinstance(exc, HTTPException) and exc.status_code in (401, 403, 404) and is_desk(request):
        return desk_error(request, exc.status_code, exc)
    if isinstance(exc, HTTPException):
        response = _error(exc.status_code, exc.detail, exc.extra)
        response.headers.update(exc.headers or {})
        return response
    if isinstance(exc, RecursionError):  # msgspec refuses absurdly deep JSON this way
        return _error(HTTP_400_BAD_REQUEST, "body: nested too deeply")
    logger.exception("unexpected error", exc_info=exc)
    return _error(HTTP_500_INTERNAL_SERVER_ERROR, "Internal Server Error")


# Disk errors that mean the storage cannot take writes now, wherever they surface
# (a body spooled into the staging folder as well as the store itself).
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


def store_unavailable(request: Request, exc: StoreUnavailable) -> Response[dict[str, Any]]:
    """A refusal like any other (503, Retry-After), logged so an operator sees the cause."""
    logger.error("%s", exc, exc_info=exc.__cause__)
    return refusal(request, exc)


def os_error(request: Request, exc: OSError) -> Response[dict[str, Any]]:
    if exc.errno not in STORAGE_ERRNOS:
        return http_error(request, exc)
    media = getattr(request.app.state, "media", None)
    name = media.store.name if media is not None else "storage"
    unavailable = StoreUnavailable(name, exc.strerror or str(exc))
    unavailable.__cause__ = exc
    return store_unavailable(request, unavailable)


def refusal(_: Request, exc: Refusal) -> Response[dict[str, Any]]:
    """Every domain refusal, mapped here once: its status, the field and the message."""
    extra = [{"key": exc.field, "message": exc.message}] if exc.field else None
    response = _error(exc.status, exc.detail, extra)
    response.headers.update(exc.headers)
    return response


EXCEPTION_HANDLERS = {
    Exception: http_error,
    ValidationException: validation_error,
    Refusal: refusal,
    StoreUnavailable: store_unavailable,
    OSError: os_error,
}


class ErrorItem(msgspec.Struct, kw_only=True):
    """One problem of a refusal: the field (`key`) and what is wrong with it."""

    message: str
    key: str | None = None
    source: str | None = None


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every error answer's body, as `_error` builds it (published as one component)."""

    status_code: int
    detail: str
    extra: list[ErrorItem] | None = None
