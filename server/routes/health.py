"""Liveness and readiness for a load balancer: no auth.

`/health` and `/healthz` say the process answers (no database: a slow database must not
get a live process restarted). `/readyz` says it can do work now: the database answers
a query and the media store takes a write; 503 naming what failed otherwise, so the load
balancer sends requests to the other workers meanwhile.
"""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Request, get
from litestar.exceptions import ServiceUnavailableException
from sqlalchemy import text

from server.openapi import PublicOperation, errors

CHECK_SECONDS = 3.0


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str  # "ready"
    # Each dependency checked: "ok".
    checks: dict[str, str]


@get(
    ["/health", "/healthz"],
    exclude_from_auth=True,
    tags=["health"],
    sync_to_thread=False,
    operation_class=PublicOperation,
    responses=errors(public=True),
)
def health() -> Health:
    return Health(status="ok")


async def _check(work) -> str:
    try:
        await asyncio.wait_for(work, CHECK_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:  # any failure of the dependency is an answer, not a 500
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    return "ok"


async def _database_answers(database) -> None:
    async with database.session(write=False) as session:
        await session.execute(text("SELECT 1"))


@get(
    "/readyz",
    exclude_from_auth=True,
    tags=["health"],
    operation_class=PublicOperation,
    responses=errors(503, public=True),
)
async def readiness(request: Request) -> Readiness:
    """200 when the database and the store answer; otherwise a 503 whose `extra` holds
    each check ("ok" or why it failed)."""
    state = request.app.state
    checks = {
        "database": await _check(_database_answers(state.database)),
        "store": await _check(state.media.store.check()),
    }
    failed = [f"{name}: {why}" for name, why in checks.items() if why != "ok"]
    if failed:
        raise ServiceUnavailableException("not ready: " + "; ".join(failed), extra=checks)
    return Readiness(status="ready", checks=checks)
