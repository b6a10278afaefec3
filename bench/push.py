"""Push throughput and latency, against the plain-driver ceilings on the same disk.

Starts `kancha serve` (SQLite under a temporary data dir, or PostgreSQL with
--database-url: an admin URL on which the bench creates a scratch database and drops it
afterwards), and for each configuration of --tablets x --batches drives that many
simulated tablets pushing batches of new packets for --seconds, then replays the same
batches (all duplicates) with the same concurrency. The same rows are then written by
plain drivers (bench/push_raw.py): sqlite3 with the server's pragmas; on PostgreSQL also
asyncpg executemany and COPY. Prints one JSON object; the server's RSS is read from /proc.

    .venv/bin/python bench/push.py [--tablets 1 8 32] [--batches 1 50] [--seconds 3]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
        [--writers 1]   # groups written at once per process (PostgreSQL)
        [--hold 32x50]   # print the server pid, then run only that configuration
        [--server-latency]   # also p50/p99 as the server's access log times them
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from push_raw import SQLITE_PRAGMAS, raw_postgres, raw_sqlite

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


def _rss_mib(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": fields.get("VmRSS", 0.0), "peak_rss_mib": fields.get("VmHWM", 0.0)}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def _push(client, headers, body, latencies, status) -> None:
    started = time.perf_counter()
    response = await client.post("/v1/sync/push", json=body, headers=headers)
    latencies.append(time.perf_counter() - started)
    assert response.status_code == 200, response.text
    assert all(r["status"] == status for r in response.json()["results"]), response.text


async def _tablet(client, headers, case_id, batch, deadline, sent, latencies) -> None:
    device, seq = str(uuid.uuid4()), 1  # a fresh tablet per configuration: seq from 1
    while time.perf_counter() < deadline:
        body = {
            "device_id": device,
            "sent_at": "2026-01-05T16:06:00+08:00",
            "packets": _packets(case_id, seq, batch),
        }
        seq += batch
        await _push(client, headers, body, latencies, "accepted")
        sent.append((headers, body))


async def _replay(client, sent, latencies, concurrency) -> None:
    queue = list(reversed(sent))

    async def worker():
        while queue:
            headers, body = queue.pop()
            await _push(client, headers, body, latencies, "duplicate")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


async def _setup(client, dispatcher: str, surveyors: list[str]) -> list[tuple[dict, str]]:
    for _ in range(600):
        try:
            if (await client.get("/health")).status_code == 200:
                break
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    desk = {"Authorization": f"Bearer {dispatcher}"}
    tablets = []
    for i, token in enumerate(surveyors):
        case = {
            "case_no": f"BENCH-{i}",
            "reported_at": "2026-01-05T15:55:00+08:00",
            "location": {"lat": 31.23, "lon": 121.47},
            "address": "bench",
            "zone": "city",
        }
        case = (await client.post("/v1/cases", headers=desk, json=case)).json()
        dispatch = {"surveyor": f"sv{i}"}
        await client.post(f"/v1/cases/{case['id']}/dispatch", headers=desk, json=dispatch)
        tablets.append(({"Authorization": f"Bearer {token}"}, case["id"]))
    return tablets


def _log_size(log: Path | None) -> int:
    return log.stat().st_size if log is not None else 0


def _server_latency(log: Path, start: int, end: int) -> dict[str, float]:
    """p50/p99 of the pushes' `duration_ms` in the server's access log between two offsets:
    the server's own time, without the bench client's (which shares the cores)."""
    with open(log, "rb") as f:
        f.seek(start)
        lines = f.read(end - start).splitlines()
    durations = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("path") == "/v1/sync/push":
            durations.append(entry["duration_ms"] / 1000)
    return {"p50": _pct(durations, 0.5), "p99": _pct(durations, 0.99)} if durations else {}


async def _configuration(
    client, tablets, n, batch, seconds, pid, raw_dir, pg_dsn, log: Path | None = None
) -> dict:
    sent: list[tuple[dict, dict]] = []
    new_lat: list[float] = []
    logged = [_log_size(log)]
    cpu = _cpu_s(pid)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_tablet(client, h, c, batch, deadline, sent, new_lat) for h, c in tablets[:n])
    )
    new_elapsed = time.perf_counter() - started
    new_cpu = _cpu_s(pid) - cpu
    packets = len(sent) * batch
    await asyncio.sleep(0.1)  # the last answers' log lines
    logged.append(_log_size(log))
    dup_lat: list[float] = []
    cpu = _cpu_s(pid)
    started = time.perf_counter()
    await _replay(client, sent, dup_lat, n)
    dup_elapsed = time.perf_counter() - started
    dup_cpu = _cpu_s(pid) - cpu
    await asyncio.sleep(0.1)
    logged.append(_log_size(log))
    new_rate, dup_rate = packets / new_elapsed, packets / dup_elapsed
    bodies = [body for _, body in sent]
    raw = raw_sqlite(raw_dir / f"raw-{n}x{batch}.db", bodies)
    out = {
        "tablets": n,
        "batch": batch,
        "pushes": len(sent),
        "packets": packets,
        "new_packets_per_s": round(new_rate),
        "duplicate_packets_per_s": round(dup_rate),
        "new_pushes_per_s": round(len(sent) / new_elapsed, 1),
        "new_latency_ms": {"p50": _pct(new_lat, 0.5), "p99": _pct(new_lat, 0.99)},
        "duplicate_latency_ms": {"p50": _pct(dup_lat, 0.5), "p99": _pct(dup_lat, 0.99)},
        "duplicate_to_new": round(dup_rate / new_rate, 2),
        **(
            {
                "server_new_latency_ms": _server_latency(log, logged[0], logged[1]),
                "server_duplicate_latency_ms": _server_latency(log, logged[1], logged[2]),
            }
            if log is not None
            else {}
        ),
        "server_cpu_ms_per_new_push": round(new_cpu * 1000 / len(sent), 2),
        "server_cpu_ms_per_duplicate_push": round(dup_cpu * 1000 / len(sent), 2),
        "raw_sqlite3_packets_per_s": round(raw),
        "ratio_to_raw_sqlite3": round(new_rate / raw, 3),
    }
    if pg_dsn:
        pg = await raw_postgres(pg_dsn, bodies, n)
        out["raw_asyncpg_executemany_packets_per_s"] = round(pg["executemany"])
        out["raw_asyncpg_copy_packets_per_s"] = round(pg["copy"])
        out["ratio_to_executemany"] = round(new_rate / pg["executemany"], 3)
        out["ratio_to_copy"] = round(new_rate / pg["copy"], 3)
    out["server_after"] = _rss_mib(pid)
    return out


async def _warm_up(client, tablets, seconds: float = 2.0) -> None:
    """Unmeasured pushes and replays first: the server's first requests pay for compiling
    statements and routes and its start-up jobs run, which otherwise land on whichever
    configuration comes first (doubling a 1x1 figure's CPU per push, seen here)."""
    sent: list[tuple[dict, dict]] = []
    deadline = time.perf_counter() + seconds
    n = min(8, len(tablets))
    for batch in (1, 50):
        await asyncio.gather(
            *(_tablet(client, h, c, batch, deadline, sent, []) for h, c in tablets[:n])
        )
        deadline = time.perf_counter() + seconds
    await _replay(client, sent, [], n)


async def _scratch_database(admin_url: str, drop: str | None = None) -> tuple[str, str]:
    import asyncpg

    admin_dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin_dsn)
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            return "", ""
        name = f"kancha_pushbench_{uuid.uuid4().hex[:8]}"
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_dsn.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tablets", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--database-url", default="", help="PostgreSQL admin URL")
    parser.add_argument(
        "--writers", type=int, default=1, help="KANCHA_PUSH_WRITERS (PostgreSQL only)"
    )
    parser.add_argument("--hold", default="", help="TxB: print the pid, wait 3 s, run it only")
    parser.add_argument(
        "--server-latency",
        action="store_true",
        help="also p50/p99 from the server's access log (costs the server a line per request)",
    )
    args = parser.parse_args()
    configs = [(n, b) for b in args.batches for n in args.tablets]
    if args.hold:
        n, b = (int(x) for x in args.hold.split("x"))
        configs = [(n, b)]

    env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    if args.server_latency:
        env["KANCHA_ACCESS_LOG"] = "1"
    scratch, pg_dsn = "", ""
    if args.database_url:
        scratch, pg_dsn = await _scratch_database(args.database_url)
        env["KANCHA_DATABASE_URL"] = pg_dsn.replace("postgresql://", "postgresql+asyncpg://")
        env["KANCHA_PUSH_WRITERS"] = str(args.writers)
    results = []
    try:
        with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
            env["KANCHA_DATA_DIR"] = str(Path(tmp) / "data")
            dispatcher = _kancha(env, "user", "add", "disp", "--role", "dispatcher")
            most = max(n for n, _ in configs)
            surveyors = [
                _kancha(env, "user", "add", f"sv{i}", "--role", "surveyor") for i in range(most)
            ]
            log = Path(tmp) / "access.log" if args.server_latency else None
            # The server's stderr: its access log when asked for, else nothing.
            err = os.open(log, os.O_WRONLY | os.O_CREAT) if log else subprocess.DEVNULL
            port = _free_port()
            server = subprocess.Popen(  # noqa: ASYNC220 (started once, before any load)
                [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            if log:
                os.close(err)  # the server holds its own copy
            try:
                limits = httpx.Limits(max_connections=most * 2)
                url = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
                    tablets = await _setup(client, dispatcher, surveyors)
                    idle = _rss_mib(server.pid)
                    await _warm_up(client, tablets)
                    if args.hold:
                        print(f"server pid {server.pid}", file=sys.stderr, flush=True)
                        await asyncio.sleep(3)
                    for n, batch in configs:
                        results.append(
                            await _configuration(
                                client,
                                tablets,
                                n,
                                batch,
                                args.seconds,
                                server.pid,
                                Path(tmp),
                                pg_dsn,
                                log,
                            )
                        )
                    final = _rss_mib(server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        if scratch:
            await _scratch_database(args.database_url, drop=scratch)
    print(
        json.dumps(
            {
                "database": "postgresql" if pg_dsn else "sqlite",
                "seconds_per_configuration": args.seconds,
                "push_writers": args.writers if pg_dsn else 1,
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                "server_sqlite_pragmas": SQLITE_PRAGMAS,
                "raw_sqlite3": "same 23 columns, PK + UNIQUE(device_id, seq) + "
                "(case_id, status) index, one BEGIN IMMEDIATE..COMMIT per push batch, "
                "one connection, server pragmas; no foreign keys",
                "raw_postgres": "asyncpg executemany / COPY of the same rows, one "
                "transaction per push batch, one connection per tablet, synchronous_commit "
                "server default"
                if pg_dsn
                else None,
                "server_rss_idle": idle,
                "server_rss_end": final,
                "configurations": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
