"""Push throughput on the embedded default, against the raw SQLite ceiling on the same disk.

Starts `kancha serve` on a temporary data dir, drives it with concurrent simulated tablets
pushing batches of new packets for a fixed time, replays the same batches (all duplicates),
then inserts the same rows with plain sqlite3 `executemany` (one commit per batch, as the
server commits once per push). Prints one JSON object.

    .venv/bin/python bench/push.py [--tablets 32] [--batch 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kancha(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _packets(case_id: str, first_seq: int, n: int) -> list[dict]:
    return [
        {
            "packet_id": str(uuid.uuid4()),
            "seq": first_seq + i,
            "case_id": case_id,
            "kind": "position",
            "occurred_at": "2026-01-05T16:05:00+08:00",
            "gps": {"lat": 31.23 + i * 1e-5, "lon": 121.47, "accuracy_m": 8},
            "data": {"speed_kmh": 42},
        }
        for i in range(n)
    ]


async def _tablet(client, headers, device, case_id, batch, deadline, sent, latencies):
    seq = 1
    while time.perf_counter() < deadline:
        body = {
            "device_id": device,
            "sent_at": "2026-01-05T16:06:00+08:00",
            "packets": _packets(case_id, seq, batch),
        }
        seq += batch
        started = time.perf_counter()
        response = await client.post("/v1/sync/push", json=body, headers=headers)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        assert all(r["status"] == "accepted" for r in response.json()["results"])
        sent.append((headers, body))


async def _replay(client, bodies, latencies, concurrency):
    queue = list(bodies)

    async def worker():
        while queue:
            headers, body = queue.pop()
            started = time.perf_counter()
            response = await client.post("/v1/sync/push", json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert all(r["status"] == "duplicate" for r in response.json()["results"])

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


def _raw_sqlite(path: Path, bodies: list[tuple[dict, dict]]) -> float:
    """Plain sqlite3 executemany of the same rows, in the same journal mode as the server."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # The same columns the server's packet log holds, filled the way it fills them.
    conn.execute(
        "CREATE TABLE packets (packet_id TEXT PRIMARY KEY, device_id TEXT, seq INTEGER, "
        "case_id TEXT, surveyor_id INTEGER, kind TEXT, status TEXT, reason TEXT, digest TEXT, "
        "body BLOB, body_format TEXT, received_at TEXT, occurred_at TEXT, clock_offset_ms "
        "INTEGER, corrected_at TEXT, lat REAL, lon REAL, accuracy_m REAL, fix_time TEXT, "
        "category TEXT, UNIQUE (device_id, seq))"
    )
    batches = []
    for _, body in bodies:
        rows = []
        for p in body["packets"]:
            raw = json.dumps(p).encode()
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
                    hashlib.sha256(raw).hexdigest(),
                    raw,
                    "json",
                    "2026-01-05 08:06:00",
                    p["occurred_at"],
                    0,
                    p["occurred_at"],
                    p["gps"]["lat"],
                    p["gps"]["lon"],
                    8.0,
                    None,
                    None,
                )
            )
        batches.append(rows)
    started = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO packets VALUES ({', '.join('?' * 20)})", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return sum(len(r) for r in batches) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tablets", type=int, default=32)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        data = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
        env["KANCHA_DATA_DIR"] = str(data)
        dispatcher = _kancha(env, "user", "add", "disp", "--role", "dispatcher")
        surveyors = [
            _kancha(env, "user", "add", f"sv{i}", "--role", "surveyor") for i in range(args.tablets)
        ]
        port = _free_port()
        server = subprocess.Popen(  # noqa: ASYNC220 (started once, before any load)
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            limits = httpx.Limits(max_connections=args.tablets * 2)
            async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
                for _ in range(400):
                    try:
                        if (await client.get("/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                desk = {"Authorization": f"Bearer {dispatcher}"}
                tablets = []
                for i, token in enumerate(surveyors):
                    case = (
                        await client.post(
                            "/v1/cases",
                            headers=desk,
                            json={
                                "case_no": f"BENCH-{i}",
                                "reported_at": "2026-01-05T15:55:00+08:00",
                                "location": {"lat": 31.23, "lon": 121.47},
                                "address": "bench",
                                "zone": "city",
                            },
                        )
                    ).json()
                    await client.post(
                        f"/v1/cases/{case['id']}/dispatch",
                        headers=desk,
                        json={"surveyor": f"sv{i}"},
                    )
                    tablets.append(
                        ({"Authorization": f"Bearer {token}"}, str(uuid.uuid4()), case["id"])
                    )

                sent: list[tuple[dict, dict]] = []
                new_lat: list[float] = []
                started = time.perf_counter()
                deadline = started + args.seconds
                await asyncio.gather(
                    *(
                        _tablet(client, h, d, c, args.batch, deadline, sent, new_lat)
                        for h, d, c in tablets
                    )
                )
                new_elapsed = time.perf_counter() - started
                packets = len(sent) * args.batch

                dup_lat: list[float] = []
                started = time.perf_counter()
                await _replay(client, sent, dup_lat, args.tablets)
                dup_elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        raw = _raw_sqlite(Path(tmp) / "raw.db", sent)

    accepted_per_s = packets / new_elapsed
    duplicate_per_s = packets / dup_elapsed
    print(
        json.dumps(
            {
                "tablets": args.tablets,
                "batch": args.batch,
                "packets": packets,
                "accepted_packets_per_s": round(accepted_per_s),
                "duplicate_packets_per_s": round(duplicate_per_s),
                "new_latency_ms": {"p50": _pct(new_lat, 0.5), "p99": _pct(new_lat, 0.99)},
                "duplicate_latency_ms": {"p50": _pct(dup_lat, 0.5), "p99": _pct(dup_lat, 0.99)},
                "raw_sqlite_packets_per_s": round(raw),
                "ratio_to_raw": round(accepted_per_s / raw, 3),
                "duplicate_to_new": round(duplicate_per_s / accepted_per_s, 2),
                "median_latency_ms_all": round(statistics.median(new_lat + dup_lat) * 1000, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
