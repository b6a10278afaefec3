"""OpenRosa submissions/s next to the JSON push of the same surveys, in one run.

Starts `kancha serve` (SQLite under a temporary data dir, or a scratch PostgreSQL database
with --database-url, as bench/push.py does), dispatches one case per surveyor, then for
each --phones count drives that many phones for --seconds each way:
- `openrosa`: ODK Collect's POST (multipart instance XML + one photo), which the server
  turns into four packets (arrived, photo, survey completed, estimate) and a stored photo;
- `json`: what a kancha tablet sends for the same survey: PUT of the photo, then one push
  of the same four packets.
Then every survey is re-sent (all duplicates) with the same concurrency. Prints one JSON
object: surveys/s new and re-sent, p50/p99 per survey, per configuration and protocol.

    .venv/bin/python bench/openrosa.py [--phones 1 8] [--seconds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from push import ROOT, _free_port, _kancha, _pct, _scratch_database, _setup

sys.path.insert(0, str(ROOT))
from tests.media.samples import photo
from tests.openrosa.collect import instance_xml


def _photos(count: int) -> list[bytes]:
    return [photo(320, 240, seed=10_000 + i) for i in range(count)]


def _openrosa(case_id: str, jpeg: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    name = f"{uuid.uuid4().hex}.jpg"
    xml = instance_xml(case_id, instance_id=f"uuid:{uuid.uuid4()}", files={"scene_photo": name})
    return [("xml_submission_file", ("s.xml", xml, "text/xml")), (name, (name, jpeg, "image/jpeg"))]


def _json(case_id: str, jpeg: bytes, device: str, seq: int) -> tuple[str, bytes, dict]:
    sha = hashlib.sha256(jpeg).hexdigest()
    base = {"case_id": case_id, "occurred_at": "2026-01-05T16:40:00+08:00"}
    gps = {"lat": 31.2305, "lon": 121.4738, "accuracy_m": 8}
    packets = [
        {**base, "kind": "arrived", "gps": gps, "data": {}},
        {**base, "kind": "photo", "data": {"category": "scene"}, "media": [sha]},
        {**base, "kind": "survey_completed", "data": {"notes": "bench"}},
        {**base, "kind": "estimate_submitted", "data": {"amount": 1500, "items": []}},
    ]
    for i, p in enumerate(packets):
        p.update(packet_id=str(uuid.uuid4()), seq=seq + i)
    body = {"device_id": device, "sent_at": "2026-01-05T16:41:00+08:00", "packets": packets}
    return sha, jpeg, body


async def _send(client, protocol: str, headers: dict, token: str, survey, latencies) -> None:
    started = time.perf_counter()
    if protocol == "openrosa":
        r = await client.post(f"/collect/{token}/submission", files=survey)
        assert r.status_code == 201, r.text
    else:
        sha, jpeg, body = survey
        r = await client.put(f"/v1/media/{sha}", content=jpeg, headers=headers)
        assert r.status_code in (200, 201), r.text
        r = await client.post("/v1/sync/push", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert all(x["status"] in ("accepted", "duplicate") for x in r.json()["results"])
    latencies.append(time.perf_counter() - started)


async def _run(client, protocol, phones, seconds, photos) -> dict:
    sent: list[tuple[dict, str, object]] = []
    new_lat: list[float] = []

    async def phone(headers: dict, case_id: str, deadline: float) -> None:
        token, device, seq = headers["Authorization"][7:], str(uuid.uuid4()), 1
        while time.perf_counter() < deadline:
            jpeg = photos.pop() if photos else photo(320, 240, seed=len(sent) + 10**6)
            if protocol == "openrosa":
                survey = _openrosa(case_id, jpeg)
            else:
                survey = _json(case_id, jpeg, device, seq)
                seq += 4
            await _send(client, protocol, headers, token, survey, new_lat)
            sent.append((headers, token, survey))

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(phone(h, c, deadline) for h, c in phones))
    new_elapsed = time.perf_counter() - started
    dup_lat: list[float] = []
    queue = list(reversed(sent))

    async def resend() -> None:
        while queue:
            headers, token, survey = queue.pop()
            await _send(client, protocol, headers, token, survey, dup_lat)

    started = time.perf_counter()
    await asyncio.gather(*(resend() for _ in phones))
    dup_elapsed = time.perf_counter() - started
    return {
        "surveys": len(sent),
        "new_surveys_per_s": round(len(sent) / new_elapsed, 1),
        "resent_surveys_per_s": round(len(sent) / dup_elapsed, 1),
        "new_latency_ms": {"p50": _pct(new_lat, 0.5), "p99": _pct(new_lat, 0.99)},
        "resent_latency_ms": {"p50": _pct(dup_lat, 0.5), "p99": _pct(dup_lat, 0.99)},
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phones", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--database-url", default="", help="PostgreSQL admin URL")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    scratch = ""
    if args.database_url:
        scratch, pg_dsn = await _scratch_database(args.database_url)
        env["KANCHA_DATABASE_URL"] = pg_dsn.replace("postgresql://", "postgresql+asyncpg://")
    most = max(args.phones)
    photos = _photos(int(150 * args.seconds * len(args.phones) * 2))
    results = []
    try:
        with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
            env["KANCHA_DATA_DIR"] = str(Path(tmp) / "data")
            dispatcher = _kancha(env, "user", "add", "disp", "--role", "dispatcher")
            surveyors = [
                _kancha(env, "user", "add", f"sv{i}", "--role", "surveyor") for i in range(most)
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
                limits = httpx.Limits(max_connections=most * 2)
                async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
                    phones = await _setup(client, dispatcher, surveyors)
                    # The form is built at the first OpenRosa request: not part of a survey.
                    warm = await client.get(f"/collect/{surveyors[0]}/formList")
                    assert warm.status_code == 200, warm.text
                    for n in args.phones:
                        row = {"phones": n}
                        for protocol in ("json", "openrosa"):
                            row[protocol] = await _run(
                                client, protocol, phones[:n], args.seconds, photos
                            )
                        row["openrosa_to_json"] = round(
                            row["openrosa"]["new_surveys_per_s"] / row["json"]["new_surveys_per_s"],
                            2,
                        )
                        results.append(row)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        if scratch:
            await _scratch_database(args.database_url, drop=scratch)
    database = "postgresql" if args.database_url else "sqlite"
    unit = "a survey = 4 packets + one 320x240 JPEG"
    print(json.dumps({"database": database, "unit": unit, "results": results}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
