"""Liveness: no auth, no database."""

from __future__ import annotations

import msgspec
from litestar import get

from server.openapi import PublicOperation, errors


class Health(msgspec.Struct):
    status: str


@get(
    "/health",
    exclude_from_auth=True,
    tags=["health"],
    sync_to_thread=False,
    operation_class=PublicOperation,
    responses=errors(public=True),
)
def health() -> Health:
    return Health(status="ok")
