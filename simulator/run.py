"""Plays the planned day: its own server or `--url`, the users, the tablets, the verdict."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from cases.clock import Clock, ScaledClock
from simulator.anomalies import compare_anomalies
from simulator.compare import (
    compare_packets,
    compare_photos,
    compare_timings,
    compare_workflow,
    fetch_all,
)
from simulator.desk import Desk
from simulator.local import create_users, own_server, read_users_file
from simulator.plan import DevicePlan, Options, day_span_s, plan_day
from simulator.progress import Progress
from simulator.report import failures, text_report
from simulator.tablet import Env, Tablet
from simulator.tamper import plant_and_verify
from simulator.truth import CaseTruth, Ledger


class SimulationError(ValueError):
    """Options that cannot be played; the message says why."""


@dataclasses.dataclass
class Target:
    url: str
    clock: Clock
    dispatcher: str  # token
    surveyors: dict[str, str]  # name -> token
    reviewer: str | None = None  # token; without one, no reviews (nor returns and closes)


def simulate(
    opts: Options,
    *,
    url: str | None = None,
    users_file: Path | None = None,
    database_url: str = "",
    keep: Path | None = None,
    as_json: bool = False,
    quiet: bool = False,
    server_clock: Clock | None = None,
) -> int:
    """Run one simulated day and print the report; the exit status is the verdict."""
    tag = f"{opts.seed}-{secrets.token_hex(3)}"  # one server may host many runs
    devices = plan_day(opts, tag)
    if url is not None:
        target = _remote(url, users_file, devices, server_clock)
        result = asyncio.run(_play(target, opts, devices, quiet))
    else:
        now = datetime.now(UTC)
        # The day is dated in the past: it ends about when the run does.
        start = (now - timedelta(seconds=day_span_s(devices))).replace(microsecond=0)
        with _data_dir(keep) as data_dir:
            db_url = database_url or f"sqlite+aiosqlite:///{data_dir / 'kancha.db'}"
            names = [(f"sim-{tag}-desk", "dispatcher"), (f"sim-{tag}-review", "reviewer")]
            names += [(d.name, "surveyor") for d in devices]
            tokens = create_users(data_dir, db_url, names)
            with own_server(data_dir, db_url, start, opts.speed, now) as base:
                target = Target(
                    base,
                    ScaledClock(start, opts.speed, now),
                    tokens[names[0][0]],
                    {d.name: tokens[d.name] for d in devices},
                    tokens[names[1][0]],
                )
                result = asyncio.run(_play(target, opts, devices, quiet))
            if not database_url:  # only ever the simulator's own temporary SQLite
                result["tamper"] = plant_and_verify(
                    data_dir, db_url, data_dir / "kancha.db", opts.seed
                )
                result["failures"] = failures(result)
                result["ok"] = not result["failures"]
            if keep:
                result["data_dir"] = str(data_dir)
    print(json.dumps(result, indent=2, default=str) if as_json else text_report(result))
    return 0 if result["ok"] else 1


class _data_dir:
    def __init__(self, keep: Path | None) -> None:
        self.keep = keep
        self.tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Path:
        if self.keep:
            self.keep.mkdir(parents=True, exist_ok=True)
            return self.keep.resolve()
        self.tmp = tempfile.TemporaryDirectory(prefix="kancha-sim-")
        return Path(self.tmp.name)

    def __exit__(self, *exc: object) -> None:
        if self.tmp:
            self.tmp.cleanup()


def _remote(url: str, users_file: Path | None, devices: list[DevicePlan], clock: Clock | None):
    if users_file is None:
        raise SimulationError(
            "--url needs --users FILE: lines of `name role token` for one dispatcher and "
            "the surveyors (create them with `kancha user add` on the server's side)"
        )
    users = read_users_file(users_file)
    desks = [token for role, token in users.values() if role == "dispatcher"]
    reviewers = [token for role, token in users.values() if role == "reviewer"]
    surveyors = [(name, token) for name, (role, token) in users.items() if role == "surveyor"]
    if not desks or not surveyors:
        raise SimulationError(f"{users_file}: needs a dispatcher and at least one surveyor")
    if len(surveyors) < len(devices):
        raise SimulationError(
            f"{users_file}: {len(surveyors)} surveyors for --devices {len(devices)}"
        )
    for device, (name, _) in zip(devices, surveyors, strict=False):
        device.name = name
    assert clock is not None
    return Target(
        url.rstrip("/"), clock, desks[0], dict(surveyors), reviewers[0] if reviewers else None
    )


async def _play(target: Target, opts: Options, devices: list[DevicePlan], quiet: bool) -> dict:
    started = time.monotonic()
    cases = sorted((c for d in devices for c in d.cases), key=lambda c: c.index)
    truths = [CaseTruth(c) for c in cases]
    ledger = Ledger(truths)
    total = sum(
        len(c.steps) + sum(len(g.steps) + len(g.previous_steps) for g in c.acts.legs) for c in cases
    )
    total += sum(c.acts.resubmit is not None for c in cases) if target.reviewer else 0
    progress = Progress(total, "day  ", "events", enabled=not quiet)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=target.url, timeout=120, limits=limits) as http:
        env = Env(
            http=http,
            base_url=target.url,
            clock=target.clock,
            opts=opts,
            day_start=target.clock.now(),
            dispatcher={"Authorization": f"Bearer {target.dispatcher}"},
            ledger=ledger,
            progress=progress,
            reused={
                s.photo
                for c in cases
                if "reused_photo" in c.planted
                for s in c.steps
                if s.photo and s.photo.case_index != c.index
            },
        )
        day_start = env.day_start
        tablets = [Tablet(d, target.surveyors[d.name], env, truths) for d in devices]
        reviewer = {"Authorization": f"Bearer {target.reviewer}"} if target.reviewer else None
        if reviewer is None:
            ledger.note("no reviewer among the users: no reviews, returns or closes played")
        desk = Desk(env, tablets, reviewer)
        desk.owe(cases)
        env.on_dispatch = desk.follow
        await asyncio.gather(*(t.run() for t in tablets))
        await desk.settle()
        day_end = target.clock.now()
        progress.close()
        checking = Progress(len(truths), "check", "cases", enabled=not quiet)
        fetched = await fetch_all(http, env.dispatcher, truths, checking)
        checking.close()
        answer = await http.get("/v1/board", headers=env.dispatcher)
        board = answer.json() if answer.status_code == 200 else None
        pulled = await _first_pulls(http, tablets)
    result = {
        "day": {
            "devices": len(devices),
            "cases": len(cases),
            "speed": opts.speed,
            "start": day_start.isoformat(),
            "end": day_end.isoformat(),
            "simulated_hours": (day_end - day_start).total_seconds() / 3600,
            "real_seconds": round(time.monotonic() - started, 1),
            "max_event_lag_s": round(ledger.max_lag_s, 1),
            "options": dataclasses.asdict(opts),
        },
        "packets": compare_packets(fetched, ledger),
        "photos": compare_photos(fetched, ledger),
        "timings": compare_timings(fetched, ledger, opts.speed),
        "anomalies": compare_anomalies(fetched),
        "workflow": compare_workflow(fetched, board, pulled, ledger),
        "latency_ms": ledger.latency_ms(),
        "notes": ledger.notes,
    }
    result["failures"] = failures(result)
    result["ok"] = not result["failures"]
    return result


async def _first_pulls(http: httpx.AsyncClient, tablets: list[Tablet]) -> set[str] | None:
    """The cases in every surveyor's first pull (a tablet set up anew), None if refused."""
    held: set[str] = set()
    for tablet in tablets:
        answer = await http.get("/v1/sync/pull", headers=tablet.auth)
        if answer.status_code != 200:
            return None
        held |= {case["id"] for case in answer.json()["cases"]}
    return held


def main_error(message: str) -> int:
    print(f"kancha simulate: {message}", file=sys.stderr)
    return 2
