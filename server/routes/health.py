"""Liveness: no auth, no database."""

from __future__ import annotations

import msgspec
from litestar import get


class Health(msgspec.Struct):
    status: str


@get("/health", exclude_from_auth=True, tags=["health"], sync_to_thread=False)
def health() -> Health:
    return Health(status="ok")
