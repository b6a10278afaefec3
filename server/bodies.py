"""Request bodies are decoded strictly on every route, the way the push decodes its own.

Litestar converts a parsed body into the handler's `data` type leniently (`"31.23"` is
taken for a latitude). This request class checks the raw body against that type first
with `sync.wire.decode` (strict, no NaN or ±Infinity), so a wrong type is a 400 naming
the field on every route; what Litestar then converts is known to be well-typed.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from sync import wire


class StrictRequest(Request):
    async def json(self) -> Any:
        await self._check(wire.JSON, b"null")
        return await super().json()

    async def msgpack(self) -> Any:
        await self._check(wire.MSGPACK, b"\xc0")
        return await super().msgpack()

    async def _check(self, fmt: str, empty: bytes) -> None:
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is not None:
            # Refused (a 400 naming the field) by wire.decode, mapped in server/errors.py.
            wire.decode(await self.body() or empty, data.annotation, fmt)
