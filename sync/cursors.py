"""Pull cursors: opaque to the tablet, made and checked by the server only.

A cursor is a change-feed position bound to the user it was issued to, signed with a key
the server makes for itself on first use, so a forged, edited or borrowed cursor is refused
rather than silently skipping changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.refusal import Refusal
from cases.sql import insert
from sync.models import ServerSecret

KEY_NAME = "cursor"


async def cursor_key(session: AsyncSession) -> bytes | None:
    """The signing key, or None before it is made (reading never writes)."""
    value = await session.scalar(select(ServerSecret.value).where(ServerSecret.name == KEY_NAME))
    return bytes.fromhex(value) if value is not None else None


async def make_cursor_key(session: AsyncSession) -> bytes:
    """The signing key, made now if it is not yet (a write: give it a writing session)."""
    await session.execute(
        insert(session, ServerSecret)
        .values(name=KEY_NAME, value=secrets.token_hex(32))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    key = await cursor_key(session)
    assert key is not None
    return key


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:16]


def make_cursor(key: bytes, user_id: int, position: int) -> str:
    payload = f"1:{user_id}:{position}".encode()
    return base64.urlsafe_b64encode(payload + b"." + _mac(key, payload)).decode().rstrip("=")


def read_cursor(key: bytes, user_id: int, cursor: str) -> int:
    """The feed position in a cursor this server issued to this user; a Refusal (400) for
    any other cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, mac = raw[:-17], raw[-16:]
        if raw[-17:-16] != b"." or not hmac.compare_digest(mac, _mac(key, payload)):
            raise Refusal("cursor", "not one this server made")
        version, owner, position = payload.decode().split(":")
    except (ValueError, UnicodeDecodeError):
        raise Refusal("cursor", "not one this server made") from None
    if version != "1" or int(owner) != user_id:
        raise Refusal("cursor", "not one this server made for you")
    return int(position)
