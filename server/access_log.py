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


KEY = "_kancha_access"


def access_log(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: notes when the request came in. The line itself is written by
    `access_log_send` (a before_send hook, which sees every answer, also the errors
    Litestar's exception handling sends from outside the middleware stack)."""
    _setup()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[KEY] = [datetime.now(UTC), time.perf_counter(), 500, False]  # type: ignore[literal-required]
        try:
            await app(scope, receive, send)
        except BaseException:
            raise  # the error's answer is still to come, through before_send
        else:
            _write(scope)  # (once: a client gone before the last byte still gets a line)

    return middleware


async def access_log_send(message: Message, scope: Scope) -> None:
    """Note the status, and write the line with the response's last byte."""
    state = scope.get(KEY)  # type: ignore[call-overload]
    if state is None:
        return
    if message["type"] == "http.response.start":
        state[2] = message["status"]
    elif message["type"] == "http.response.body" and not message.get("more_body", False):
        _write(scope)


ENCODER = msgspec.json.Encoder()


def _write(scope: Scope) -> None:
    state = scope.get(KEY)  # type: ignore[call-overload]
    if state is None or state[3]:
        return
    state[3] = True
    wall, started, status, _ = state
    user: Any = scope.get("user")
    line = AccessLine(
        time=wall.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        method=scope.get("method", ""),
        path=scope.get("path", ""),
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        pid=os.getpid(),
        user_id=getattr(user, "id", None),
    )
    logger.info(ENCODER.encode(line).decode())
