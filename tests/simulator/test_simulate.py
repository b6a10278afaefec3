"""A small simulated day, end to end through the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.db import Database
from simulator.compare import UNAVAILABLE
from simulator.report import failures
from tests.factories import make_user
from tests.live import running_server

SMALL_DAY = [
    "--devices", "3", "--cases", "6", "--photos", "2", "--speed", "900",
    "--offline", "0.3", "--duplicates", "0.5", "--reorder", "0.5", "--clock-skew", "20",
    "--tus", "0.5", "--no-fix", "0.2", "--anomalies", "1", "--seed", "11",
]  # fmt: skip


def _simulate(args: list[str], env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "simulate", "--json", "--quiet", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=300,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, report, done.stderr


def _assert_clean(report: dict, cases: int) -> None:
    packets, photos = report["packets"], report["photos"]
    timings, anomalies = report["timings"], report["anomalies"]
    assert packets["sent"] > cases * 10
    assert packets["stored"] == packets["sent"]
    assert packets["lost"] == 0 and packets["stored_twice"] == 0 and packets["rejected"] == 0
    assert photos["sent"] > 0 and photos["stored"] == photos["sent"]
    assert photos["corrupted"] == 0 and photos["missing"] == 0
    # Every case dispatched has its scene timings, and the customer's wait unless out of town.
    assert timings["compared"] == timings["expected"] >= 3 * cases
    assert timings["missing"] == 0 and timings["unexpected"] == 0
    assert timings["over_allowed"] == 0
    assert all(c["agreed"] == c["checked"] for c in timings["per_timing"].values())
    assert timings["max_error_gps_s"] <= 2.0
    assert anomalies["planted"] == anomalies["flagged"]
    assert {"reused_photo", "far_arrival"} <= set(anomalies["planted"])
    assert report["ok"] is True and report["failures"] == []


async def test_a_small_day_loses_nothing_and_times_every_case(database_url: str) -> None:
    code, report, stderr = await asyncio.to_thread(
        _simulate, [*SMALL_DAY, "--database-url", database_url]
    )
    assert code == 0, stderr + json.dumps(report.get("failures"))
    _assert_clean(report, cases=6)
    # Doctored photos (issue 16) were planted and each flagged (planted == flagged above).
    assert {"near_duplicate", "no_exif", "edited_exif"} <= set(report["anomalies"]["planted"])
    packets, photos = report["packets"], report["photos"]
    # The day really was rough: duplicates, reordering, no signal, cut tus uploads.
    assert packets["results"]["duplicate"] > 0
    assert packets["batches_flushed_twice"] + packets["batches_raced"] > 0
    assert packets["batches_reordered"] > 0 and packets["flushes_after_offline"] > 0
    assert photos["uploads_tus"] > 0 and photos["tus_resumed_midway"] == photos["uploads_tus"]
    assert photos["uploads_put"] > 0
    # A tablet's far wrong clock was corrected mid-queue: its events still came out exact.
    assert packets["clock_corrected_midqueue"] > 0


async def test_against_a_running_server_with_a_users_file(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    """The documented --url way: the server and the simulator share KANCHA_CLOCK_*."""
    now = datetime.now(UTC)
    clock = {
        "KANCHA_CLOCK_SPEED": "900",
        "KANCHA_CLOCK_START": (now - timedelta(hours=3)).isoformat(),
        "KANCHA_CLOCK_ANCHOR": now.isoformat(),
    }
    users = [("desk", "dispatcher"), ("check", "reviewer")]
    users += [("field1", "surveyor"), ("field2", "surveyor")]
    lines = [f"{name} {role} {await make_user(db, name, role, now)}" for name, role in users]
    users_file = tmp_path / "users.txt"
    users_file.write_text("\n".join(lines) + "\n")
    server_env = {"KANCHA_DATA_DIR": str(tmp_path / "data"), "KANCHA_DATABASE_URL": database_url}
    with running_server({**server_env, **clock}, tmp_path) as server:
        args = ["--url", server.url, "--users", str(users_file), "--devices", "2"]
        args += ["--cases", "3", "--photos", "1", "--anomalies", "1", "--seed", "5"]
        code, report, stderr = await asyncio.to_thread(_simulate, args, clock)
    assert code == 0, stderr + json.dumps(report.get("failures"))
    _assert_clean(report, cases=3)
    assert report["day"]["speed"] == 900
    # The reviewer of the file approved every estimate (the default --close 1: all closed).
    done = report["workflow"]["done"]
    assert done["review (approved)"] == done["close"] == report["workflow"]["planned"]["close"]


WORKFLOW_DAY = [
    "--devices", "3", "--cases", "8", "--photos", "1", "--speed", "900", "--seed", "3",
    "--redispatch", "0.25", "--handover", "0.25", "--out-of-town", "0.25",
    "--returns", "0.5", "--close", "1", "--no-fix", "0.2", "--anomalies", "1",
]  # fmt: skip


async def test_a_day_with_the_whole_claim_workflow_agrees(database_url: str) -> None:
    """Re-dispatches, handovers, delegations, returns and closes: every timing the server
    reports agrees with the truth, and every closed case is readable and off the board."""
    code, report, stderr = await asyncio.to_thread(
        _simulate, [*WORKFLOW_DAY, "--database-url", database_url]
    )
    assert code == 0, stderr + json.dumps(report.get("failures"))
    _assert_clean(report, cases=8)
    workflow, per_timing = report["workflow"], report["timings"]["per_timing"]
    assert workflow["planned"] == {
        "redispatch": 2,
        "handover": 2,
        "out_of_town": 2,
        "returns": 3,
        "close": 6,
    }
    assert workflow["done"] == {
        "dispatch (scene)": 2,
        "dispatch (estimate)": 2,
        "delegate": 2,
        "review (returned)": 3,
        "review (approved)": 6,
        "close": 6,
    }
    assert workflow["refused"] == {}
    assert workflow["closed"] == workflow["closed_readable"] == 6
    assert workflow["closed_on_board"] == workflow["closed_pulled"] == 0
    # Out-of-town cases are timed by their delegation, not by an arrival or the customer's wait.
    assert per_timing["delegation"] == {"checked": 2, "agreed": 2, "unexpected": 0}
    assert per_timing["arrival"]["checked"] == per_timing["report_to_arrival"]["checked"] == 6
    assert per_timing["resubmit"] == {"checked": 3, "agreed": 3, "unexpected": 0}
    # The surveyor a case was taken from went on and arrived first: flagged, ending nothing.
    anomalies = report["anomalies"]
    assert anomalies["planted"]["taken_from"] == anomalies["flagged"]["taken_from"] == 2


def test_the_verdict_names_every_kind_of_failure() -> None:
    result = {
        "packets": {"stored": 9, "lost": 1, "stored_twice": 2, "rejected": 0, "unsent": 3},
        "photos": {"stored": UNAVAILABLE},
        "timings": {"compared": 4, "over_allowed": 1, "missing": 0, "unexpected": 2},
        "anomalies": {"planted": {"far_arrival": 1}, "unflagged": ["RPT-1: far arrival"]},
        "workflow": {
            "refused": {"close: 409": 1},
            "closed": 3,
            "closed_readable": 2,
            "closed_on_board": 1,
            "closed_pulled": 2,
        },
    }
    assert failures(result) == [
        "packets: 1 lost",
        "packets: 2 stored twice",
        "packets: 3 unsent",
        f"photos: stored {UNAVAILABLE} (case media)",
        "timings: 1 off by more than allowed",
        "timings: 2 reported that the truth has not",
        "anomalies: 1 planted but not flagged",
        "workflow: 1 desk acts refused or failed",
        "workflow: 1 closed cases not readable as closed",
        "workflow: 1 closed cases still on the board",
        "workflow: 2 closed cases in a first pull",
    ]


def test_a_speed_that_differs_from_the_server_is_refused(tmp_path: Path) -> None:
    code, _, stderr = _simulate(
        ["--url", "http://127.0.0.1:9", "--speed", "100"], {"KANCHA_CLOCK_SPEED": "50"}
    )
    assert code == 2 and "KANCHA_CLOCK_SPEED" in stderr


def test_a_row_edited_behind_kanchas_back_is_named_by_verify() -> None:
    """On its own temporary SQLite the simulator edits one packet's status at the end, and
    reports that `kancha verify` passed before and names that packet after."""
    args = ["--devices", "1", "--cases", "1", "--photos", "1", "--speed", "900"]
    code, report, stderr = _simulate([*args, "--anomalies", "0", "--seed", "2"])
    assert code == 0, stderr + json.dumps(report.get("failures"))
    tamper = report["tamper"]
    assert tamper["verify_before"] == 0 and tamper["verify_after"] == 1
    assert f"packet {tamper['packet_id']}: status differs" in tamper["message"]
    assert tamper["named"] is True
    result = {**report, "tamper": {**tamper, "named": False}}
    assert failures(result)[-1].startswith("tamper: kancha verify did not name")
