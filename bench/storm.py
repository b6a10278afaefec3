"""The storm: every tablet of a province flushing a day's queue at once, against 1, 2 and
4 workers on PostgreSQL + S3, checking that nothing is lost or stored twice.

For each worker count: a scratch database (created with --database-url, an admin URL,
and dropped after), a fresh bucket on `rclone serve s3` (started by the script on a free
port), then the workers: `--layout ports` (default) runs W `kancha serve` processes on W
ports, each with its own data dir as on its own machine, and the tablets are spread over
them as a load balancer would; `--layout one-port` runs `kancha serve --workers W`.
Each of --tablets tablets pushes --packets packets (batches of --batch) and uploads
--photos photos, --tus of them by tus cut off halfway and resumed on ANOTHER worker (the
next port) -- which works only with tus state in the database and the bytes in S3; with
`--resume-same-worker` the resume goes back to the same worker. Then the board is polled
until every case's accept, contact and arrival timings have ended (the time until every
timing is current), and the job tables until every thumbnail is made. Prints one JSON
object: packets/s, photos/s, p99 latencies, those times, the scaling from 1 to 2 to 4
workers, and the counts of packets and media rows against what was sent.

    .venv/bin/python bench/storm.py [--tablets 500] [--packets 200] [--photos 10]
        [--workers 1 2 4] [--layout ports|one-port] [--resume-same-worker]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cases.models import Packet  # noqa: E402
from cases.users import create_user  # noqa: E402
from media.models import MediaObject, PacketMedia, ThumbnailJob  # noqa: E402
from server.db import Database, migrate_url  # noqa: E402
from tests.live import free_port  # noqa: E402
from tests.media.samples import photo  # noqa: E402

ACCESS_KEY, SECRET_KEY = "kancha-storm-access-key", "kancha-storm-secret-key-0123456789"
SCENE = ("accept", "contact", "arrival", "report_to_arrival")  # end with the day's packets
TUS = {"Tus-Resumable": "1.0.0"}


@dataclass
class Tally:
    push_ms: list[float] = field(default_factory=list)
    photo_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    tus: Counter = field(default_factory=Counter)


# -- the day's queue of one tablet ------------------------------------------------------


def make_photo(seed: int, size: tuple[int, int]) -> bytes:
    return photo(size[0], size[1], seed=seed, noise=True, quality=85)


def day_of_packets(case_id: str, n: int, shas: list[str]) -> list[dict]:
    """accepted, contacted, departed, positions, arrived, a photo packet per photo,
    survey_completed: `n` packets in all (positions fill the rest)."""
    head = ["accepted", "contacted", "departed"]
    tail = ["arrived", *(["photo"] * len(shas)), "survey_completed"]
    kinds = head + ["position"] * max(0, n - len(head) - len(tail)) + tail
    packets, photos = [], iter(shas)
    for seq, kind in enumerate(kinds[:n], start=1):
        minute = 16 * 60 + 5 + seq // 4
        packet: dict = {
            "packet_id": str(uuid.uuid4()),
            "seq": seq,
            "case_id": case_id,
            "kind": kind,
            "occurred_at": f"2026-01-05T{minute // 60:02d}:{minute % 60:02d}:00+08:00",
            "data": {},
        }
        if kind in ("position", "arrived"):
            packet["gps"] = {"lat": 31.23 + seq * 1e-5, "lon": 121.47, "accuracy_m": 8}
        if kind == "photo":
            packet["data"] = {"category": "scene"}
            packet["media"] = [next(photos)]
        packets.append(packet)
    return packets


# -- talking to the workers ---------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


async def push(http: httpx.AsyncClient, auth: dict, device: str, batch: list, tally: Tally):
    body = {"device_id": device, "sent_at": "2026-01-05T18:00:00+08:00", "packets": batch}
    for _ in range(5):  # a tablet retries a failed push (the server's answer says what stuck)
        started = time.perf_counter()
        try:
            response = await http.post("/v1/sync/push", json=body, headers=auth)
        except httpx.HTTPError as exc:
            tally.errors[f"push {type(exc).__name__}"] += 1
            continue
        tally.push_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code == 200:
            tally.statuses.update(r["status"] for r in response.json()["results"])
            return
        tally.errors[f"push {response.status_code}"] += 1
    tally.errors["push given up"] += 1


async def call(http: httpx.AsyncClient, method: str, path: str, t: Tally, **kw):
    """One request, tried again (up to 5 times) when the connection fails, as a tablet
    would; None if it never got an answer."""
    for _ in range(5):
        try:
            return await http.request(method, path, **kw)
        except httpx.TransportError as exc:
            t.errors[f"{method} {type(exc).__name__} (tried again)"] += 1
    t.errors[f"{method} given up"] += 1
    return None


async def put_photo(http: httpx.AsyncClient, auth: dict, sha: str, data: bytes, tally: Tally):
    started = time.perf_counter()
    headers = {**auth, "Content-Type": "image/jpeg"}
    response = await call(http, "PUT", f"/v1/media/{sha}", tally, content=data, headers=headers)
    tally.photo_ms.append((time.perf_counter() - started) * 1000)
    if response is not None and response.status_code not in (200, 201):
        tally.errors[f"PUT {response.status_code}"] += 1


async def tus_photo(
    first: httpx.AsyncClient, other: httpx.AsyncClient, auth: dict, sha: str, data: bytes, t: Tally
):
    """Create on one worker, send half, lose the connection; ask ANOTHER worker for the
    offset (HEAD) and send the rest there."""
    started = time.perf_counter()
    meta = f"sha256 {base64.b64encode(sha.encode()).decode()}"
    headers = {**auth, **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": meta}
    created = await call(first, "POST", "/v1/uploads", t, headers=headers)
    if created is None or created.status_code != 201:
        t.errors[f"tus create {getattr(created, 'status_code', None)}"] += 1
        return
    path = httpx.URL(created.headers["location"]).path
    patch = {**auth, **TUS, "Content-Type": "application/offset+octet-stream"}
    half = len(data) // 2
    await call(
        first, "PATCH", path, t, content=data[:half], headers={**patch, "Upload-Offset": "0"}
    )
    for attempt in range(5):  # the resume, on the other worker
        head = await call(other, "HEAD", path, t, headers={**auth, **TUS})
        offset = -1
        if head is not None and head.status_code == 200:
            offset = int(head.headers.get("upload-offset", "-1"))
        if attempt == 0:
            if offset == half:
                t.tus["resumed where it was cut off"] += 1
            elif offset == 0:
                t.tus["started over (that worker had none of its bytes)"] += 1
            else:
                t.tus[f"HEAD {getattr(head, 'status_code', None)} there"] += 1
        if offset < 0:
            continue
        rest = await call(
            other,
            "PATCH",
            path,
            t,
            content=data[offset:],
            headers={**patch, "Upload-Offset": str(offset)},
        )
        if rest is not None and rest.status_code == 204:
            t.photo_ms.append((time.perf_counter() - started) * 1000)
            return
        t.errors[f"tus rest {getattr(rest, 'status_code', None)} (tried again)"] += 1
    t.errors["tus given up"] += 1


async def tablet(i, clients, auth, case_id, packets, photos, args, tally: Tally) -> None:
    http = clients[i % len(clients)]
    other = http if args.resume_same_worker else clients[(i + 1) % len(clients)]
    device = f"storm-{i}-{uuid.uuid4().hex[:6]}"
    for start in range(0, len(packets), args.batch):
        await push(http, auth, device, packets[start : start + args.batch], tally)
    for n, (sha, data) in enumerate(photos):
        if n < round(len(photos) * args.tus):
            await tus_photo(http, other, auth, sha, data, tally)
        else:
            await put_photo(http, auth, sha, data, tally)


# -- the services -------------------------------------------------------------------------


def rclone() -> str:
    found = Path(sys.executable).parent / "rclone"
    return str(found) if found.exists() else "rclone"


@contextlib.contextmanager
def s3_server(root: Path):
    port = free_port()
    proc = subprocess.Popen(
        [
            rclone(), "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}",
            "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--config", "/dev/null",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            with contextlib.suppress(httpx.TransportError):
                httpx.get(endpoint)
                break
            time.sleep(0.05)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def admin(admin_url: str, sql: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "server.cli", *cmd], env=env, cwd=ROOT, stdout=out, stderr=out
        )


def tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(2400):
            if proc.poll() is not None:
                raise SystemExit(f"a worker exited at start:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise SystemExit(f"a worker did not start:\n{tail(log)}")


async def wait_until(check, poll: float = 0.1, tries: int = 6000) -> float | None:
    """Seconds until `check` holds (polled), or None if it never did."""
    started = time.perf_counter()
    for _ in range(tries):
        if await check():
            return time.perf_counter() - started
        await asyncio.sleep(poll)
    return None


# -- one configuration ------------------------------------------------------------------


async def configuration(args, workers: int, photos: list, endpoint: str, tmp: Path) -> dict:
    import boto3

    name = f"kancha_storm_{uuid.uuid4().hex[:8]}"
    await admin(args.database_url, f'CREATE DATABASE "{name}"')
    url = args.database_url.rsplit("/", 1)[0] + f"/{name}"
    bucket = f"storm-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    env.update(
        KANCHA_DATABASE_URL=url,
        KANCHA_MEDIA_URL=f"s3://{bucket}/media",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
    )
    procs: list[subprocess.Popen] = []
    database = Database(url)
    try:
        await asyncio.to_thread(migrate_url, url)  # once, before any worker starts
        tokens = await users(database, args.tablets)
        urls, logs = [], []
        one_port = args.layout == "one-port"
        for w in range(1 if one_port else workers):
            port = free_port()
            wenv = {**env, "KANCHA_DATA_DIR": str(tmp / f"{name}-w{w}")}  # a machine each
            log = tmp / f"{name}-w{w}.log"
            extra = ["--workers", str(workers)] if one_port else []
            procs.append(start(["serve", "--port", str(port), *extra], wenv, log))
            urls.append(f"http://127.0.0.1:{port}")
            logs.append(log)
        for u, p, log in zip(urls, procs, logs, strict=True):
            await wait_ready(u, p, log)
        result = await storm(args, urls, tokens, photos, database)
        return {"workers": workers, "layout": args.layout, **result}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=60)
        await database.dispose()
        await admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def users(database: Database, n: int) -> dict:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    async with database.session() as session:
        tokens = {"disp": await create_user(session, "disp", "dispatcher", now)}
        for i in range(n):
            tokens[f"sv{i}"] = await create_user(session, f"sv{i}", "surveyor", now)
        await session.commit()
    return tokens


async def open_cases(http: httpx.AsyncClient, desk: dict, n: int) -> list[str]:
    turns = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with turns:
            body = {
                "case_no": f"STORM-{i}",
                "reported_at": "2026-01-05T15:55:00+08:00",
                "location": {"lat": 31.23, "lon": 121.47},
                "address": "storm",
                "zone": "city",
            }
            case = (await http.post("/v1/cases", headers=desk, json=body)).json()
            dispatch = {"surveyor": f"sv{i}"}
            r = await http.post(f"/v1/cases/{case['id']}/dispatch", headers=desk, json=dispatch)
            assert r.status_code == 200, r.text
            return case["id"]

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def storm(args, urls: list[str], tokens: dict, photos: list, database: Database) -> dict:
    # Idle connections are dropped before uvicorn's 5 s keep-alive would close them.
    limits = httpx.Limits(
        max_connections=args.tablets, max_keepalive_connections=args.tablets, keepalive_expiry=2
    )
    clients = [httpx.AsyncClient(base_url=u, timeout=600, limits=limits) for u in urls]
    try:
        desk = {"Authorization": f"Bearer {tokens['disp']}"}
        case_ids = await open_cases(clients[0], desk, args.tablets)
        plans = []
        for i, case_id in enumerate(case_ids):
            mine = photos[i * args.photos : (i + 1) * args.photos]
            plans.append(
                (case_id, day_of_packets(case_id, args.packets, [s for s, _ in mine]), mine)
            )
        tally = Tally()
        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(
            *(
                tablet(
                    i,
                    clients,
                    {"Authorization": f"Bearer {tokens[f'sv{i}']}"},
                    c,
                    p,
                    m,
                    args,
                    tally,
                )
                for i, (c, p, m) in enumerate(plans)
            )
        )
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - cpu
        wanted = set(case_ids)

        async def timings_current() -> bool:
            board = (await clients[0].get("/v1/board", headers=desk)).json()
            return not any(
                t["name"] in SCENE
                for row in board["cases"]
                if row["case_id"] in wanted
                for t in row["timings"]
            )

        async def thumbnails_done() -> bool:
            async with database.session(write=False) as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(ThumbnailJob)
                    .where(ThumbnailJob.status == "pending")
                )
            return pending == 0

        current = await wait_until(timings_current)
        thumbs = await wait_until(thumbnails_done)
        counts = await stored(database)
    finally:
        for c in clients:
            await c.aclose()
    sent_packets = args.tablets * args.packets
    sent_photos = len(photos[: args.tablets * args.photos])
    return {
        "tablets": args.tablets,
        "packets_sent": sent_packets,
        "photos_sent": sent_photos,
        **counts,
        "packets_lost": sent_packets - counts["packets_stored"],
        "packets_doubled": counts["packet_rows"] - counts["packets_stored"],
        "photos_lost": sent_photos - counts["media_objects"],
        "statuses": dict(tally.statuses),
        "errors": dict(tally.errors),
        "tus": dict(tally.tus),
        "storm_seconds": round(seconds, 2),
        "packets_per_s": round(sent_packets / seconds, 1),
        "photos_per_s": round(sent_photos / seconds, 1),
        "push_p50_ms": pct(tally.push_ms, 0.5),
        "push_p99_ms": pct(tally.push_ms, 0.99),
        "photo_p99_ms": pct(tally.photo_ms, 0.99),
        "timings_current_after_storm_s": None if current is None else round(current, 2),
        "thumbnails_done_after_storm_s": None if thumbs is None else round(thumbs, 2),
        "client_cpu_share": round(client_cpu / seconds, 2),
    }


async def stored(database: Database) -> dict:
    async with database.session(write=False) as session:
        rows = await session.scalar(select(func.count()).select_from(Packet))
        distinct = await session.scalar(select(func.count(func.distinct(Packet.packet_id))))
        objects = await session.scalar(select(func.count()).select_from(MediaObject))
        links = await session.scalar(select(func.count()).select_from(PacketMedia))
        thumbs = await session.scalar(
            select(func.count()).select_from(ThumbnailJob).where(ThumbnailJob.status == "done")
        )
    return {
        "packet_rows": rows,
        "packets_stored": distinct,
        "media_objects": objects,
        "packet_media_rows": links,
        "thumbnails_done": thumbs,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tablets", type=int, default=500)
    parser.add_argument("--packets", type=int, default=200, help="packets per tablet")
    parser.add_argument("--batch", type=int, default=50, help="packets per push")
    parser.add_argument("--photos", type=int, default=10, help="photos per tablet")
    parser.add_argument("--tus", type=float, default=0.3, help="share of photos sent by tus")
    parser.add_argument("--photo-size", default="800x600", help="WxH of each photo")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--layout", choices=["ports", "one-port"], default="ports")
    parser.add_argument(
        "--resume-same-worker",
        action="store_true",
        help="resume each tus upload on the worker that created it (until tus state is shared)",
    )
    parser.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="PostgreSQL admin URL: a scratch database is created and dropped on it",
    )
    args = parser.parse_args()
    width, height = (int(x) for x in args.photo_size.split("x"))
    count = args.tablets * args.photos
    began = time.perf_counter()
    with ProcessPoolExecutor() as pool:
        datas = list(pool.map(make_photo, range(count), [(width, height)] * count, chunksize=16))
    photos = [(hashlib.sha256(d).hexdigest(), d) for d in datas]
    made = time.perf_counter() - began
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="kancha-storm-") as tmp,
        s3_server(Path(tmp) / "s3") as endpoint,
    ):
        for workers in args.workers:
            results.append(await configuration(args, workers, photos, endpoint, Path(tmp)))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    base = results[0]["packets_per_s"]
    ok = all(
        r["packets_lost"] == 0 and r["packets_doubled"] == 0 and r["photos_lost"] == 0
        for r in results
    )
    print(
        json.dumps(
            {
                "tablets": args.tablets,
                "packets_per_tablet": args.packets,
                "photos_per_tablet": args.photos,
                "photo_bytes_mean": round(sum(len(d) for d in datas) / max(1, len(datas))),
                "tus_share": args.tus,
                "tus_resume_on": "same worker" if args.resume_same_worker else "another worker",
                "photos_made_in_s": round(made, 1),
                "cpus": os.cpu_count(),
                "configurations": results,
                "scaling_packets_per_s": {
                    str(r["workers"]): round(r["packets_per_s"] / base, 2) for r in results
                },
                "scaling_photos_per_s": {
                    str(r["workers"]): round(r["photos_per_s"] / results[0]["photos_per_s"], 2)
                    for r in results
                },
                "nothing_lost_or_doubled": ok,
            },
            indent=2,
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
