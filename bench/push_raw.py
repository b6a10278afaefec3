"""The ceilings bench/push.py compares the server with: the same rows, columns and indexes
written by plain drivers, one transaction per push batch, with the server's durability.

SQLite: the stdlib sqlite3 with the pragmas server/db.py sets (SQLITE_PRAGMAS below; keep
them in step), one connection, batches in order (SQLite has one writer). PostgreSQL:
asyncpg `executemany` and `COPY` (copy_records_to_table), one connection per tablet
writing its own batches concurrently, server defaults (synchronous_commit=on).
Neither baseline has the server's foreign keys to devices and users.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

# What server/db.py sets on every SQLite connection (the server's durability).
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "foreign_keys": "ON",
    "busy_timeout": "60000",
}

COLUMNS = (
    "packet_id, device_id, seq, case_id, surveyor_id, kind, status, reason, digest, body, "
    "body_format, received_at, occurred_at, clock_offset_ms, corrected_at, lat, lon, "
    "accuracy_m, fix_time, category, boot_id, elapsed_ms, monotonic_at"
)
N_COLUMNS = len(COLUMNS.split(","))
SQLITE_DDL = (
    "CREATE TABLE packets (packet_id VARCHAR(64) PRIMARY KEY, device_id VARCHAR(64), "
    "seq BIGINT, case_id VARCHAR(64), surveyor_id INTEGER, kind VARCHAR(32), "
    "status VARCHAR(16), reason TEXT, digest VARCHAR(64), body BLOB, body_format VARCHAR(8), "
    "received_at DATETIME, occurred_at DATETIME, clock_offset_ms BIGINT, "
    "corrected_at DATETIME, lat FLOAT, lon FLOAT, accuracy_m FLOAT, fix_time DATETIME, "
    "category VARCHAR(32), boot_id VARCHAR(64), elapsed_ms BIGINT, monotonic_at DATETIME, "
    "UNIQUE (device_id, seq))"
)
PG_DDL = (
    "CREATE TABLE raw_packets (packet_id VARCHAR(64) PRIMARY KEY, device_id VARCHAR(64), "
    "seq BIGINT, case_id VARCHAR(64), surveyor_id INTEGER, kind VARCHAR(32), "
    "status VARCHAR(16), reason TEXT, digest VARCHAR(64), body BYTEA, body_format VARCHAR(8), "
    "received_at TIMESTAMPTZ, occurred_at TIMESTAMPTZ, clock_offset_ms BIGINT, "
    "corrected_at TIMESTAMPTZ, lat FLOAT, lon FLOAT, accuracy_m FLOAT, fix_time TIMESTAMPTZ, "
    "category VARCHAR(32), boot_id VARCHAR(64), elapsed_ms BIGINT, monotonic_at TIMESTAMPTZ, "
    "UNIQUE (device_id, seq))"
)
INDEX = "CREATE INDEX ix_{t}_case_id_status ON {t} (case_id, status)"


def rows_of(bodies: list[dict], *, text_times: bool) -> list[list[tuple]]:
    """One list of packet rows per push body, filled the way the server fills them."""
    now = datetime(2026, 1, 5, 8, 6, tzinfo=UTC)
    occurred = datetime(2026, 1, 5, 8, 5, tzinfo=UTC)
    stamp = (lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f")) if text_times else (lambda d: d)
    batches = []
    for body in bodies:
        rows = []
        for p in body["packets"]:
            raw = json.dumps(p).encode()
            digest = hashlib.sha256(raw).hexdigest()
            gps = p["gps"]
            rows.append(
                (
                    p["packet_id"],
                    body["device_id"],
                    p["seq"],
                    p["case_id"],
                    1,
                    p["kind"],
                    "accepted",
                    None,
                    digest,
                    raw,
                    "json",
                    stamp(now),
                    stamp(occurred),
                    0,
                    stamp(occurred),
                    gps["lat"],
                    gps["lon"],
                    8.0,
                    stamp(occurred),
                    None,
                    None,
                    None,
                    None,
                )
            )
        batches.append(rows)
    return batches


def raw_sqlite(path: Path, bodies: list[dict], runs: int = 3) -> float:
    """Packets/s of sqlite3 executemany, one BEGIN IMMEDIATE ... COMMIT per push batch;
    the best of `runs` runs, each on a fresh file (small samples are noisy)."""
    batches = rows_of(bodies, text_times=True)
    return max(_raw_sqlite_once(path.with_suffix(f".{i}.db"), batches) for i in range(runs))


def _raw_sqlite_once(path: Path, batches: list[list[tuple]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    for name, value in SQLITE_PRAGMAS.items():
        conn.execute(f"PRAGMA {name}={value}")
    conn.execute(SQLITE_DDL)
    conn.execute(INDEX.format(t="packets"))
    sql = f"INSERT INTO packets ({COLUMNS}) VALUES ({', '.join('?' * N_COLUMNS)})"
    started = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return sum(len(r) for r in batches) / elapsed


async def raw_postgres(dsn: str, bodies: list[dict], tablets: int) -> dict[str, float]:
    """Packets/s of asyncpg executemany and of COPY, `tablets` connections at once."""
    import asyncpg

    batches = rows_of(bodies, text_times=False)
    by_device: dict[str, list[list[tuple]]] = {}
    for body, rows in zip(bodies, batches, strict=True):
        by_device.setdefault(body["device_id"], []).append(rows)
    total = sum(len(r) for r in batches)
    names = [c.strip() for c in COLUMNS.split(",")]
    marks = ", ".join(f"${i + 1}" for i in range(N_COLUMNS))
    sql = f"INSERT INTO raw_packets ({COLUMNS}) VALUES ({marks})"
    result = {}
    for method in ("executemany", "copy"):
        admin = await asyncpg.connect(dsn)
        await admin.execute("DROP TABLE IF EXISTS raw_packets")
        await admin.execute(PG_DDL)
        await admin.execute(INDEX.format(t="raw_packets"))
        await admin.close()
        conns = [await asyncpg.connect(dsn) for _ in by_device]

        async def write(conn, device_batches, method=method):
            for rows in device_batches:
                async with conn.transaction():
                    if method == "copy":
                        await conn.copy_records_to_table("raw_packets", records=rows, columns=names)
                    else:
                        await conn.executemany(sql, rows)

        started = time.perf_counter()
        await asyncio.gather(*(write(c, b) for c, b in zip(conns, by_device.values(), strict=True)))
        result[method] = total / (time.perf_counter() - started)
        for conn in conns:
            await conn.close()
    return result
