"""Server CPU per request, by kind: where a push's fixed cost goes, apart from throughput.

Starts `kancha serve` (SQLite in a temporary data dir), then sends each kind of request
--requests times, --concurrency at once, and reads the server's CPU (user + system, all
threads) from /proc before and after. CPU per request moves far less than requests/s on a
shared machine, so compare two revisions by running this for each, back to back.

    .venv/bin/python bench/request_cpu.py [--requests 600] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from push import _cpu_s, _free_port, _kancha, _packets, _setup

ROOT = Path(__file__).resolve().parent.parent
SENT_AT = "2026-01-05T16:06:00+08:00"


def _sys_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


async def _measure(pid: int, n: int, concurrency: int, send) -> dict:
    await asyncio.gather(*(send() for _ in range(min(n, 50))))  # warm up
    cpu, system, started = _cpu_s(pid), _sys_s(pid), time.perf_counter()
    left = list(range(n))

    async def worker() -> None:
        while left:
            left.pop()
            response = await send()
            assert response.status_code < 300, response.text

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    used = _cpu_s(pid) - cpu
    return {
        "server_cpu_ms_per_request": round(used / n * 1000, 2),
        "system_share": round((_sys_s(pid) - system) / used, 2) if used else 0.0,
        "requests_per_s": round(n / (time.perf_counter() - started)),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        env["KANCHA_DATA_DIR"] = str(Path(tmp) / "data")
        dispatcher = _kancha(env, "user", "add", "disp", "--role", "dispatcher")
        surveyor = _kancha(env, "user", "add", "sv0", "--role", "surveyor")
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
            async with httpx.AsyncClient(base_url=url, timeout=60) as c:
                [(sv, case)] = await _setup(c, dispatcher, [surveyor])
                desk = {"Authorization": f"Bearer {dispatcher}"}

                def body(n: int, device: str | None = None) -> dict:
                    device = device or str(uuid.uuid4())
                    return {
                        "device_id": device,
                        "sent_at": SENT_AT,
                        "packets": _packets(case, 1, n),
                    }

                one, fifty = body(1), body(50)
                for b in (one, fifty):
                    assert (await c.post("/v1/sync/push", json=b, headers=sv)).status_code == 200
                kinds = {
                    "health (no auth, no database)": lambda: c.get("/health"),
                    "authenticated one-query GET /v1/devices/": lambda: c.get(
                        "/v1/devices/", headers=desk
                    ),
                    "duplicate push, 1 packet": lambda: c.post(
                        "/v1/sync/push", json=one, headers=sv
                    ),
                    "duplicate push, 50 packets": lambda: c.post(
                        "/v1/sync/push", json=fifty, headers=sv
                    ),
                    "new push, 1 packet (a new device each)": lambda: c.post(
                        "/v1/sync/push", json=body(1), headers=sv
                    ),
                    "new push, 50 packets (a new device each)": lambda: c.post(
                        "/v1/sync/push", json=body(50), headers=sv
                    ),
                }
                results = {
                    name: await _measure(server.pid, args.requests, args.concurrency, send)
                    for name, send in kinds.items()
                }
        finally:
            server.kill()
    print(
        json.dumps(
            {
                "database": "sqlite",
                "requests_per_kind": args.requests,
                "concurrency": args.concurrency,
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                "kinds": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
