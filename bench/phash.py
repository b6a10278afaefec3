"""Near-duplicate look-up benchmark (issue 16): how long media.near_duplicates.near takes
with 10^4, 10^5 and 10^6 hashes stored, and how many photos/s the pHash is computed at.

The hashes are synthetic (uniformly random 64-bit, which is what pHashes of unrelated
photos look like), written straight into a scratch SQLite file made from the models with
executemany (a row in media_objects and four index rows each); the look-ups go through
the same SQLAlchemy code the server runs. Each size is measured with --queries random
hashes (no match expected) plus as many planted copies at the configured distance (a
match expected and checked). Hashing is timed on 12-megapixel JPEGs decoded as the
thumbnail worker decodes them (draft mode, upright, shrunk to the small thumbnail it
hashes): pHash alone, and the whole render (decode, both thumbnails, the hash).

    .venv/bin/python bench/phash.py [--sizes 10000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageOps  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

import media.models  # noqa: E402, F401  (registers the media tables)
import sync.models  # noqa: E402, F401  (and the devices packets refer to)
from cases.models import Base  # noqa: E402
from media.near_duplicates import near, probe_keys, segments  # noqa: E402
from media.phash import phash, to_signed  # noqa: E402
from media.thumbnails import SIZES, _fit, render  # noqa: E402
from server.db import Database  # noqa: E402
from tests.media.samples import photo  # noqa: E402

DISTANCE = 6  # the default KANCHA_PHASH_DISTANCE


def fill(path: Path, start: int, stop: int, rng: random.Random) -> list[int]:
    """Store hashes number start..stop-1; their values."""
    values = [rng.getrandbits(64) for _ in range(start, stop)]
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.executemany(
            "INSERT INTO media_objects (sha256, size_bytes, content_type, stored_at,"
            " exif_flags, phash) VALUES (?, 1, 'image/jpeg', '2026-01-05 08:00:00', '', ?)",
            ((f"{n:064x}", to_signed(v)) for n, v in zip(range(start, stop), values, strict=True)),
        )
        db.executemany(
            "INSERT INTO media_phash_segments (key, phash, sha256) VALUES (?, ?, ?)",
            sorted(  # in key order: the index is appended to, not split at random
                (key, to_signed(v), f"{n:064x}")
                for n, v in zip(range(start, stop), values, strict=True)
                for key in segments(v)
            ),
        )
    return values


def planted(value: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), DISTANCE):
        value ^= 1 << bit
    return value


async def look_ups(url: str, queries: list[tuple[int, str | None]]) -> dict:
    database = Database(url)
    times, candidates_found = [], 0
    try:
        async with database.session(write=False) as session:
            await near(session, "", 0, DISTANCE)  # warm the connection and the statement
            for value, expected in queries:
                began = time.perf_counter()
                found = await near(session, "", value, DISTANCE)
                times.append(time.perf_counter() - began)
                if expected is not None:
                    assert [m.sha256 for m in found] == [expected], (expected, found)
                    candidates_found += 1
    finally:
        await database.dispose()
    times.sort()
    return {
        "median_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 3),
        "planted_found": candidates_found,
        "look_ups": len(times),
    }


def hashing(count: int) -> dict:
    """Photos/s of the pHash alone (on the worker's decoded image) and of a whole render."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(count):
            path = Path(folder) / f"{i}.jpg"
            path.write_bytes(photo(4000, 3000, seed=i, noise=True, quality=90))
            paths.append(path)
        images = []
        for path in paths:
            with Image.open(path) as image:
                image.draft("RGB", _fit(image.width, image.height, SIZES["screen"]))
                image.load()
                upright = ImageOps.exif_transpose(image)
                for variant in ("screen", "small"):  # what render() hashes: the small one
                    upright.thumbnail((SIZES[variant],) * 2, Image.Resampling.LANCZOS)
                images.append(upright)
        began = time.perf_counter()
        for image in images:
            phash(image)
        alone = time.perf_counter() - began
        began = time.perf_counter()
        for path in paths:
            render(path)
        whole = time.perf_counter() - began
    return {
        "photos": count,
        "hashed_size": list(images[0].size),
        "phash_photos_per_s": round(count / alone, 1),
        "render_with_phash_photos_per_s": round(count / whole, 2),
        "phash_share_of_render": round(alone / whole, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--photos", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(16)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    out: dict = {
        "distance": DISTANCE,
        "keys_per_look_up": len(probe_keys(0, DISTANCE)),
        "backend": "sqlite (scratch file)",
        "look_up": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "phash.db"
        engine = create_engine(f"sqlite:///{path}")
        Base.metadata.create_all(engine)
        engine.dispose()
        url = f"sqlite+aiosqlite:///{path}"
        stored: list[int] = []
        for size in sizes:
            began = time.perf_counter()
            stored += fill(path, len(stored), size, rng)
            filled = time.perf_counter() - began
            queries: list[tuple[int, str | None]] = [
                (rng.getrandbits(64), None) for _ in range(args.queries)
            ]
            for _ in range(args.queries // 4):
                n = rng.randrange(len(stored))
                queries.append((planted(stored[n], rng), f"{n:064x}"))
            rng.shuffle(queries)
            result = asyncio.run(look_ups(url, queries))
            result["fill_s"] = round(filled, 1)
            out["look_up"][str(size)] = result
            print(f"{size}: {result}", file=sys.stderr)
    out["hashing"] = hashing(args.photos)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
