"""The structured access log (KANCHA_ACCESS_LOG): one JSON line per request on stderr.

Fields: `time` (UTC, when the request came in), `method`, `path` (never the query string,
where a secret might ride), `status`, `duration_ms` (until the response's last byte),
`pid` (which worker answered), `user_id` (when the request was authenticated). The line
is written by its own logger, `kancha.access`, so it can be routed like any other log.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("kancha.access")


class AccessLine(msgspec.Struct):
    time: str
    method: str
    path: str
    status: int
    duration_ms: float
    pid: int
    user_id: int | None


def _setup() -> None:
    """A plain handler of its own: the line is the message, nothing prepended."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def access_log(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: outermost, so it sees the status of every answer, errors too."""
    _setup()
    encoder = msgspec.json.Encoder()
    pid = os.getpid()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        wall = datetime.now(UTC)
        started = time.perf_counter()
        status = 500  # what the server sends when the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            user: Any = scope.get("user")
            line = AccessLine(
                time=wall.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                method=scope.get("method", ""),
                path=scope.get("path", ""),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                pid=pid,
                user_id=getattr(user, "id", None),
            )
            logger.info(encoder.encode(line).decode())

    return middleware
