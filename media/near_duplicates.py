"""The near-duplicate index: which stored photos have a pHash within d bits of a given one.

Multi-index hashing: the 64-bit hash is cut into SEGMENTS segments of 16 bits, each
stored as one row keyed `segment_no << 16 | value` (media.models.PhashSegment). Two
hashes within d bits differ in some segment by at most d // SEGMENTS bits (pigeonhole),
so the candidates are the rows whose key is one of the values within that radius of a
segment of the query: 4 x 17 keys at the default d = 6 (radius 1), each an index
equality; each row holds the whole hash, so the primary key index answers alone. The
exact distance of each candidate is then counted in Python. The table is
in the database, so it is the same on SQLite and PostgreSQL and survives restarts; no
look-up ever scans all hashes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.sql import insert
from media.models import MediaObject, PhashSegment
from media.phash import BITS, hamming, to_signed, to_unsigned

SEGMENTS = 4
SEGMENT_BITS = BITS // SEGMENTS
SEGMENT_MASK = (1 << SEGMENT_BITS) - 1
MAX_DISTANCE = 15  # radius 3 per segment: 4 x 697 keys, still an index look-up


def segments(value: int) -> list[int]:
    """The index keys of an (unsigned) hash: one per segment."""
    return [
        (n << SEGMENT_BITS) | ((value >> (n * SEGMENT_BITS)) & SEGMENT_MASK)
        for n in range(SEGMENTS)
    ]


def _within(value: int, radius: int) -> Iterable[int]:
    """Every SEGMENT_BITS-bit value at most `radius` bits from `value`."""
    for r in range(radius + 1):
        for bits in itertools.combinations(range(SEGMENT_BITS), r):
            flipped = value
            for bit in bits:
                flipped ^= 1 << bit
            yield flipped


def probe_keys(value: int, distance: int) -> list[int]:
    """The keys whose rows include every hash within `distance` of `value`."""
    radius = distance // SEGMENTS
    keys = []
    for n in range(SEGMENTS):
        part = (value >> (n * SEGMENT_BITS)) & SEGMENT_MASK
        keys.extend((n << SEGMENT_BITS) | near for near in _within(part, radius))
    return keys


@dataclass(frozen=True)
class Match:
    sha256: str
    distance: int


async def add(session: AsyncSession, sha256: str, value: int) -> None:
    """Store an object's hash and index it (idempotent: a second worker changes nothing)."""
    await session.execute(
        MediaObject.__table__.update()
        .where(MediaObject.__table__.c.sha256 == sha256)
        .values(phash=to_signed(value))
    )
    await session.execute(
        insert(session, PhashSegment).on_conflict_do_nothing(),
        [{"key": key, "phash": to_signed(value), "sha256": sha256} for key in segments(value)],
    )


async def near(session: AsyncSession, sha256: str, value: int, distance: int) -> list[Match]:
    """The other stored photos within `distance` bits of `value`, nearest first."""
    distance = max(0, min(distance, MAX_DISTANCE))
    rows = await session.execute(
        select(PhashSegment.sha256, PhashSegment.phash).where(
            PhashSegment.key.in_(probe_keys(value, distance))
        )
    )
    found = {}
    for other, stored in rows:
        if other != sha256 and (d := hamming(value, to_unsigned(stored))) <= distance:
            found[other] = d
    return [Match(s, d) for s, d in sorted(found.items(), key=lambda kv: (kv[1], kv[0]))]
