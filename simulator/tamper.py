"""At the end of a run on its own temporary SQLite, the simulator edits one stored packet
behind kancha's back (with sqlite3, past the log's append-only triggers, as someone with
the file could) and checks that `kancha verify` passed before and names that packet after.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from simulator.local import _kancha, _server_env


def _verify(data_dir: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = _server_env(data_dir, database_url)
    return subprocess.run(_kancha("verify"), env=env, capture_output=True, text=True, timeout=600)


def plant_and_verify(data_dir: Path, database_url: str, db_file: Path, seed: int) -> dict[str, Any]:
    before = _verify(data_dir, database_url)
    db = sqlite3.connect(db_file)
    with contextlib.closing(db), db:
        count = db.execute("SELECT count(*) FROM packets").fetchone()[0]
        if not count:
            return {"planted": None, "note": "no packet stored: nothing to edit"}
        packet_id, device_id, status = db.execute(
            "SELECT packet_id, device_id, status FROM packets ORDER BY packet_id LIMIT 1 OFFSET ?",
            (seed % count,),
        ).fetchone()
        edited = "rejected" if status == "accepted" else "accepted"
        db.execute("DROP TRIGGER IF EXISTS packets_no_update")
        db.execute("UPDATE packets SET status = ? WHERE packet_id = ?", (edited, packet_id))
    after = _verify(data_dir, database_url)
    message = after.stderr.strip().splitlines()[-1] if after.stderr.strip() else ""
    return {
        "planted": f"packet {packet_id} of device {device_id}: status {status} -> {edited}",
        "packet_id": packet_id,
        "verify_before": before.returncode,
        "verify_after": after.returncode,
        "message": message,
        "named": before.returncode == 0
        and after.returncode == 1
        and f"packet {packet_id}: status differs" in message,
    }
