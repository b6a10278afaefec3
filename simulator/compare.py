"""The server's state, read back over HTTP as the desk would, against the ground truth."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from simulator.truth import CaseTruth, Ledger

ACCURACY_S = 2.0
# Timing name -> (kind of the start event, or "dispatch"; kind of the end event).
TIMED = {
    "accept": ("dispatch", "accepted"),
    "contact": ("dispatch", "contacted"),
    "arrival": ("dispatch", "arrived"),
    "estimate": (None, "estimate_submitted"),  # start depends on the loss tier
}
UNAVAILABLE = "not available from server"


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _items(body: Any) -> list[dict]:
    if isinstance(body, dict):
        for key in ("items", "media"):
            if isinstance(body.get(key), list):
                return body[key]
    return body if isinstance(body, list) else []


class Fetched:
    """Everything read back for one case."""

    def __init__(self, truth: CaseTruth) -> None:
        self.truth = truth
        self.case: dict | None = None
        self.media: list[dict] | None = None
        self.hashes: dict[str, str | None] = {}  # sha -> hash of what was downloaded


async def fetch_all(http: httpx.AsyncClient, headers: dict, truths: list[CaseTruth], progress):
    gate = asyncio.Semaphore(16)

    async def one(truth: CaseTruth) -> Fetched:
        got = Fetched(truth)
        async with gate:
            response = await http.get(f"/v1/cases/{truth.case_id}", headers=headers)
            if response.status_code == 200:
                got.case = response.json()
            response = await http.get(f"/v1/cases/{truth.case_id}/media", headers=headers)
            if response.status_code == 200:
                got.media = _items(response.json())
                for item in got.media:
                    got.hashes[item["sha256"]] = await _download(http, headers, item)
        progress.advance(1)
        return got

    return await asyncio.gather(*(one(t) for t in truths if t.case_id))


async def _download(http: httpx.AsyncClient, headers: dict, item: dict) -> str | None:
    url = item.get("url") or f"/v1/media/{item['sha256']}"
    response = await http.get(url, headers=headers, follow_redirects=True)
    if response.status_code != 200:
        return None
    return hashlib.sha256(response.content).hexdigest()


def compare_packets(fetched: list[Fetched], ledger: Ledger) -> dict:
    sent = sum(len(f.truth.packet_ids) for f in fetched)
    sent += sum(len(t.packet_ids) for t in ledger.cases if not t.case_id)
    result: dict[str, Any] = {
        "sent": sent,
        "acknowledged": len(ledger.push_rtt),
        "rejected": len(ledger.rejected),
        "unsent": ledger.unsent,
        "pushes": ledger.pushes,
        "push_errors": dict(ledger.push_errors),
        "results": dict(ledger.statuses),
        "batches_flushed_twice": ledger.batches_twice,
        "batches_raced": ledger.batches_raced,
        "batches_reordered": ledger.batches_reordered,
        "flushes_after_offline": ledger.offline_flushes,
        "clock_corrected_midqueue": ledger.clock_corrected_midqueue,
    }
    if not fetched or any(f.case is None or "events" not in f.case for f in fetched):
        result["stored"] = UNAVAILABLE
        return result
    stored = lost = twice = 0
    for f in fetched:
        seen = Counter(e.get("packet_id") for e in f.case["events"])  # type: ignore[index]
        for packet_id in f.truth.packet_ids:
            n = seen.get(packet_id, 0)
            stored += n >= 1
            lost += n == 0
            twice += n > 1
    result.update(stored=stored, lost=lost, stored_twice=twice)
    return result


def compare_photos(fetched: list[Fetched], ledger: Ledger) -> dict:
    unique = {sha for f in fetched for sha in f.truth.media}
    result: dict[str, Any] = {
        "sent": sum(len(f.truth.media) for f in fetched),  # one per case it was attached to
        "unique": len(unique),
        "uploads_put": ledger.media_put,
        "uploads_tus": ledger.media_tus,
        "tus_resumed_midway": sum(1 for offset in ledger.tus_resumed if offset > 0),
        "upload_errors": dict(ledger.media_errors),
    }
    if not fetched or any(f.media is None for f in fetched):
        result["stored"] = UNAVAILABLE
        return result
    stored = corrupted = missing_links = 0
    for f in fetched:
        for sha in f.truth.media:
            if sha not in f.hashes:
                missing_links += 1
            elif f.hashes[sha] != sha:
                corrupted += 1
            else:
                stored += 1
    result.update(stored=stored, corrupted=corrupted, missing=missing_links)
    return result


def _true_ends(truth: CaseTruth, name: str) -> tuple[datetime | None, str, datetime | None, str]:
    start_kind, end_kind = TIMED[name]
    if start_kind is None:
        # On the spot (from the arrival) only for a small loss on a simple-procedure case;
        # anything else follows the 24 h rule, from the survey's completion.
        on_spot = truth.plan.amount <= 2000 and truth.plan.simple
        start_kind = "arrived" if on_spot else "survey_completed"
    start = truth.dispatched_at if start_kind == "dispatch" else truth.times.get(start_kind)
    return start, start_kind, truth.times.get(end_kind), end_kind


def compare_timings(fetched: list[Fetched], ledger: Ledger, speed: float) -> dict:
    if not fetched or any(f.case is None or "timings" not in f.case for f in fetched):
        return {"compared": UNAVAILABLE}
    errors: list[dict] = []
    by_source: dict[str, float] = {}  # time source of an end -> its largest error
    within: dict[str, Counter] = {name: Counter() for name in TIMED}
    for f in fetched:
        server = {t["name"]: t for t in f.case["timings"]}  # type: ignore[index]
        sources = {e.get("packet_id"): e.get("source") for e in f.case.get("events", [])}  # type: ignore[union-attr]
        for name in TIMED:
            start, start_kind, end, end_kind = _true_ends(f.truth, name)
            timing = server.get(name)
            if timing is None or start is None or end is None:
                errors.append({"case_no": f.truth.plan.case_no, "timing": name, "missing": True})
                continue
            error = {
                "case_no": f.truth.plan.case_no,
                "timing": name,
                "source": timing.get("source"),
            }
            worst, over = 0.0, False
            for label, true_at, kind, server_at in (
                ("start", start, start_kind, _when(timing.get("start"))),
                ("end", end, end_kind, _when(timing.get("end"))),
            ):
                if server_at is None:
                    error["missing"] = True
                    break
                off = abs((server_at - true_at).total_seconds())
                source = (
                    "dispatch"
                    if kind == "dispatch"
                    else sources.get(f.truth.first_packet.get(kind))
                )
                by_source[str(source)] = max(by_source.get(str(source), 0.0), round(off, 3))
                allowed = ACCURACY_S + _latency_s(f.truth, kind, ledger, speed)
                worst = max(worst, off)
                over = over or off > allowed
                error[f"{label}_error_s"] = round(off, 3)
                error[f"{label}_allowed_s"] = round(allowed, 3)
            error.update(error_s=round(worst, 3), over=over)
            errors.append(error)
            truth_s = (end - start).total_seconds()
            limit = timing.get("limit_seconds")
            counts = within[name]
            counts["cases"] += 1
            if limit is not None:
                counts["truth_within"] += truth_s <= limit
                counts["server_within"] += timing.get("state") == "met"
    measured = [e for e in errors if "error_s" in e]
    worst = max(measured, key=lambda e: e["error_s"], default=None)
    return {
        "compared": len(measured),
        "missing": sum(1 for e in errors if e.get("missing")),
        "max_error_s": worst["error_s"] if worst else None,
        "max_error_gps_s": by_source.get("gps"),
        "max_error_by_source_s": by_source,
        "over_2s": sum(1 for e in measured if e["error_s"] > ACCURACY_S),
        "over_allowed": sum(1 for e in measured if e["over"]),
        "worst": worst,
        "sources": dict(Counter(e["source"] for e in measured)),
        "within_limit": {
            name: {
                "cases": c["cases"],
                "truth": round(c["truth_within"] / c["cases"], 3) if c["cases"] else None,
                "server": round(c["server_within"] / c["cases"], 3) if c["cases"] else None,
            }
            for name, c in within.items()
        },
        "examples_over": [e for e in errors if e.get("over") or e.get("missing")][:5],
        "largest": sorted(measured, key=lambda e: -e["error_s"])[:5],
    }


def _latency_s(truth: CaseTruth, kind: str, ledger: Ledger, speed: float) -> float:
    """What the server cannot know: an event without a GPS fix is timed through a clock
    offset measured across the network, off by up to the push's transit time × speed."""
    if kind == "dispatch" or truth.fixed.get(kind, True):
        return 0.0
    packet_id = truth.first_packet.get(kind)
    return ledger.push_rtt.get(packet_id, 0.0) * speed if packet_id else 0.0


def compare_anomalies(fetched: list[Fetched]) -> dict:
    if not fetched or any(f.case is None or f.media is None for f in fetched):
        return {"planted": UNAVAILABLE}
    planted: Counter = Counter()
    flagged: Counter = Counter()
    unflagged: list[str] = []
    unplanted: Counter = Counter()
    reused = {f.truth.reused_sha for f in fetched if f.truth.reused_sha}
    for f in fetched:
        case, plan = f.case or {}, f.truth.plan
        arrival_flags = [
            flag
            for e in case.get("events", [])
            if e.get("kind") == "arrived"
            for flag in e.get("flags", [])
        ] + [
            flag
            for t in case.get("timings", [])
            if t["name"] == "arrival"
            for flag in t.get("flags", [])
        ]
        if "far_arrival" in plan.planted:
            planted["far_arrival"] += 1
            if arrival_flags:
                flagged["far_arrival"] += 1
            else:
                unflagged.append(f"{plan.case_no}: far arrival")
        if "reused_photo" in plan.planted:
            planted["reused_photo"] += 1
            item = next((m for m in f.media or [] if m["sha256"] == f.truth.reused_sha), None)
            if item and item.get("flags"):
                flagged["reused_photo"] += 1
            else:
                unflagged.append(f"{plan.case_no}: reused photo")
        if not plan.planted.intersection({"far_arrival"}):
            unplanted.update(arrival_flags)
        for item in f.media or []:
            if item["sha256"] not in reused:
                unplanted.update(item.get("flags", []))
        for e in case.get("events", []):
            if e.get("kind") != "arrived":
                unplanted.update(e.get("flags", []))
    return {
        "planted": dict(planted),
        "flagged": dict(flagged),
        "unflagged": unflagged,
        "unplanted_flags": dict(unplanted),
    }
