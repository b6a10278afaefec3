"""The HTTP/1.1 protocol `kancha serve` runs: uvicorn's httptools one, with the request
head (request line and headers) capped, and a connection closed after an answer given to a
client still holding its body back for `100 Continue`.

Neither of uvicorn's parsers answers 431 by itself: httptools (llhttp) buffers a header of
any size in memory, and h11's `h11_max_incomplete_event_size` limit comes out as a 400
("Invalid HTTP request received") because uvicorn drops h11's 431 hint. httptools is kept
for its speed (pushes and uploads spend much of their time parsing); this counts the bytes
of each request head before handing them to it, and past MAX_HEAD_BYTES answers 431 and
stops parsing. The rest of what the client sends is read and thrown away (up to
DRAIN_BYTES, for at most DRAIN_SECONDS) so that a client still writing its request can
read the answer rather than meet a connection reset.

A client that sent `Expect: 100-continue` and hears a final answer before any `100
Continue` (a photo already held, a refusal) does not send its body: uvicorn, which would
take the next request's bytes as that body, keeps the connection open, and a client
reusing it (curl uploading several files in one run) then waits for ever. RFC 9110
(10.1.1) asks such a server to say whether it closes the connection: here it does
(`connection: close`, then closed once the answer is out).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
DRAIN_BYTES = 8 * 1024 * 1024
DRAIN_SECONDS = 5.0
END_OF_HEAD = b"\r\n\r\n"
BODY_431 = b"Request header fields too large (at most 65536 bytes)."


class HeaderLimitedHttpTools(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading a request line and headers (or between requests)
        self._head_bytes = 0
        self._tail = b""  # the last bytes seen, for an end of head split across reads
        self._drained: int | None = None  # bytes thrown away since refusing
        self._drain_timer: asyncio.TimerHandle | None = None

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.waiting_for_100_continue:
            cycle.send = _closing_if_body_held_back(cycle)  # read when the app task starts

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._tail = True, 0, b""

    def data_received(self, data: bytes) -> None:
        if self._drained is not None:
            self._drained += len(data)
            if self._drained > DRAIN_BYTES:
                self.transport.close()
            return
        if self._in_head:
            seen = self._tail + data
            end = seen.find(END_OF_HEAD)
            head = len(data) if end < 0 else max(0, end + len(END_OF_HEAD) - len(self._tail))
            self._head_bytes += head
            self._tail = seen[-(len(END_OF_HEAD) - 1) :]
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()
                return
        super().data_received(data)

    def _refuse_head(self) -> None:
        self.logger.warning("Request header fields too large: refused with 431.")
        response = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            response += [name, b": ", value, b"\r\n"]
        response += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(BODY_431)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            BODY_431,
        ]
        self.transport.write(b"".join(response))
        self._drained = 0
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._drain_timer = self.loop.call_later(DRAIN_SECONDS, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        super().connection_lost(exc)


def _closing_if_body_held_back(cycle: Any) -> Any:
    """The cycle's send, ending keep-alive when the answer starts while the client still
    waits for `100 Continue` (uvicorn sends that at the app's first read of the body)."""
    send = cycle.send

    async def closing_send(message: Any) -> None:
        if message["type"] == "http.response.start" and cycle.waiting_for_100_continue:
            cycle.keep_alive = False  # uvicorn adds `connection: close` and closes after
        await send(message)

    return closing_send
