"""Timing recalculation: a full recompute of every case, and one case after a late packet.

Builds `--cases` cases of `--events` accepted packets each (a surveyor's whole lifecycle,
positions, photos and documents, an estimate) straight into a fresh database, then times:
- `kancha recalc`'s work (cases.recalc.recalc_everything): seconds and events/s;
- the recalculation of one case after a late packet lands (insert + recalc + commit, as a
  push does), at a small size first and again at full size, to show it does not grow with
  the number of cases (it reads only that case's rows, by index).
Prints one JSON object.

    .venv/bin/python bench/recalc.py [--cases 100000] [--events 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cases.limits import DEFAULT_TIERS  # noqa: E402
from cases.models import Case, Dispatch, Packet, User  # noqa: E402
from cases.recalc import recalc_cases, recalc_everything  # noqa: E402
from cases.timeline import DEFAULT_STALE_FIX  # noqa: E402
from server.db import Database, migrate  # noqa: E402
from server.settings import Settings  # noqa: E402
from sync.models import Device  # noqa: E402

WINDOW = timedelta(seconds=Settings().irregular_window_seconds)  # held packets join within

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
SURVEYORS = 50
CHUNK = 500  # cases per insert transaction
KINDS = (
    ["accepted", "contacted", "departed"]
    + ["position"] * 4
    + ["arrived"]
    + ["photo"] * 6
    + ["document"] * 3
    + ["survey_completed", "estimate_submitted", "note"]
)


def _lifecycle(n: int) -> list[str]:
    kinds = list(KINDS[:n])
    while len(kinds) < n:
        kinds.insert(-1, "photo")
    return kinds


def _rows(case_no: int, n_events: int) -> tuple[dict, dict, dict, list[dict]]:
    case_id = str(uuid.uuid4())
    device_id = f"bench-{case_no}"
    surveyor = 2 + case_no % SURVEYORS
    dispatched = T0 + timedelta(seconds=case_no * 30)
    lat, lon = 31.2 + (case_no % 100) * 1e-3, 121.4 + (case_no % 77) * 1e-3
    case = dict(
        id=case_id,
        case_no=f"B-{case_no:07d}",
        reported_at=dispatched - timedelta(minutes=3),
        lat=lat,
        lon=lon,
        address="bench",
        zone=("city", "suburban", "out_of_town")[case_no % 3],
        plate=None,
        simple_procedure=case_no % 2 == 0,
        status="dispatched",
        surveyor_id=surveyor,
        created_by=1,
        created_at=dispatched,
        updated_at=dispatched,
        change_seq=0,
    )
    dispatch = dict(
        case_id=case_id, surveyor_id=surveyor, dispatched_by=1, dispatched_at=dispatched
    )
    device = dict(
        device_id=device_id,
        surveyor_id=surveyor,
        first_seen_at=dispatched,
        last_push_at=dispatched,
        acked_through=n_events,
        max_seq=n_events,
        clock_offset_ms=-45_000,
    )
    packets = [
        _packet(case_id, device_id, surveyor, seq, kind, dispatched, lat, lon)
        for seq, kind in enumerate(_lifecycle(n_events), start=1)
    ]
    return case, dispatch, device, packets


def _packet(case_id, device_id, surveyor, seq, kind, dispatched, lat, lon) -> dict:
    true_time = dispatched + timedelta(minutes=2 * seq)
    offset = timedelta(milliseconds=-45_000)
    data: dict = {}
    if kind in ("photo", "document"):
        data = {"category": "damage" if kind == "photo" else "driving_licence"}
    if kind == "estimate_submitted":
        data = {"amount": 500 + seq * 100 + (uuid.UUID(case_id).int % 15000), "items": []}
    gps = None
    if kind in ("arrived", "position", "photo"):
        gps = {"lat": lat, "lon": lon, "accuracy_m": 8, "fix_time": true_time.isoformat()}
    body = {
        "packet_id": str(uuid.uuid4()),
        "seq": seq,
        "case_id": case_id,
        "kind": kind,
        "occurred_at": (true_time - offset).isoformat(),
        "gps": gps,
        "data": data,
        "media": [],
    }
    return dict(
        packet_id=body["packet_id"],
        device_id=device_id,
        seq=seq,
        case_id=case_id,
        surveyor_id=surveyor,
        kind=kind,
        status="accepted",
        reason=None,
        digest="0" * 64,
        body=msgspec.json.encode(body),
        body_format="json",
        received_at=true_time + timedelta(seconds=5),
        occurred_at=true_time - offset,
        clock_offset_ms=-45_000,
        corrected_at=true_time,
        lat=gps["lat"] if gps else None,
        lon=gps["lon"] if gps else None,
        accuracy_m=8.0 if gps else None,
        fix_time=true_time if gps else None,
        category=data.get("category"),
    )


async def _users(database: Database) -> None:
    async with database.session() as session:
        rows = [dict(id=1, name="disp", role="dispatcher", token_hash="d" * 64, created_at=T0)]
        rows += [
            dict(id=2 + i, name=f"sv{i}", role="surveyor", token_hash=f"{i:064d}", created_at=T0)
            for i in range(SURVEYORS)
        ]
        await session.execute(insert(User), rows)
        await session.commit()


async def _grow(database: Database, start: int, stop: int, n_events: int) -> list[str]:
    ids = []
    for first in range(start, stop, CHUNK):
        built = [_rows(i, n_events) for i in range(first, min(stop, first + CHUNK))]
        async with database.session() as session:
            await session.execute(insert(Case), [b[0] for b in built])
            await session.execute(insert(Dispatch), [b[1] for b in built])
            await session.execute(insert(Device), [b[2] for b in built])
            await session.execute(insert(Packet), [p for b in built for p in b[3]])
            await session.commit()
        ids += [b[0]["id"] for b in built]
    return ids


async def _late_packet_recalc(database: Database, case_ids: list[str], first_seq: int, tries: int):
    """Median ms of: store one late packet for a case, recalculate that case, commit."""
    timings = []
    for i in range(tries):
        case_id = case_ids[(i * 7919) % len(case_ids)]
        async with database.session() as session:
            case = await session.get(Case, case_id)
            device = f"bench-{case.case_no[2:].lstrip('0') or '0'}"
            late = _packet(
                case_id,
                device,
                case.surveyor_id,
                first_seq + i,
                "note",
                case.created_at,
                case.lat,
                case.lon,
            )
            started = time.perf_counter()
            await session.execute(insert(Packet), [late])
            await recalc_cases(
                session,
                [case_id],
                tiers=DEFAULT_TIERS,
                irregular_window=WINDOW,
                stale_fix=DEFAULT_STALE_FIX,
            )
            await session.commit()
            timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


async def main(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        database = Database(url)
        try:
            await migrate(database.engine)
            await _users(database)
            small = min(1000, args.cases)
            started = time.perf_counter()
            ids = await _grow(database, 0, small, args.events)
            await recalc_everything(
                database.write_sessions,
                tiers=DEFAULT_TIERS,
                irregular_window=WINDOW,
                stale_fix=DEFAULT_STALE_FIX,
            )
            at_small = await _late_packet_recalc(database, ids, 1000, args.tries)
            ids += await _grow(database, small, args.cases, args.events)
            build_seconds = time.perf_counter() - started
            full = await recalc_everything(
                database.write_sessions,
                tiers=DEFAULT_TIERS,
                irregular_window=WINDOW,
                stale_fix=DEFAULT_STALE_FIX,
                batch=args.batch,
            )
            at_full = await _late_packet_recalc(database, ids, 100_000, args.tries)
        finally:
            await database.dispose()
    return {
        "database": url.split("://", 1)[0],
        "cases": full["cases"],
        "events": full["events"],
        "build_seconds": round(build_seconds, 1),
        "full_recalc_seconds": round(full["seconds"], 2),
        "full_recalc_events_per_second": round(full["events"] / full["seconds"]),
        "late_packet_recalc_ms": {f"at_{small}_cases": at_small, f"at_{args.cases}_cases": at_full},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500, help="cases per recalc transaction")
    parser.add_argument("--tries", type=int, default=50, help="late packets timed per size")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
