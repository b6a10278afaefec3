"""The server's state, read back over HTTP as the desk would, against the ground truth."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from simulator.expect import COMPARED, Expected, expected_timings
from simulator.truth import CaseTruth, Ledger, Recorded

ACCURACY_S = 2.0
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


THUMBNAIL_TRIES = 300  # 30 s at most for the worker to hash the last photos


async def _hashed(http: httpx.AsyncClient, headers: dict, truth: CaseTruth) -> bool:
    """Whether every photo of the case has its thumbnails, hence its pHash (the worker
    makes both): near-duplicates are only found once both photos are hashed."""
    response = await http.get(f"/v1/cases/{truth.case_id}/media", headers=headers)
    if response.status_code != 200:
        return True  # nothing to wait for: the fetch below reports it
    return all(
        item.get("thumbnail_url") or not str(item.get("content_type", "")).startswith("image/")
        for item in response.json().get("items", [])
    )


async def wait_for_hashes(http: httpx.AsyncClient, headers: dict, truths: list[CaseTruth]):
    """Bounded: a photo whose thumbnails failed is reported, not waited for forever."""
    waiting = [t for t in truths if t.case_id]
    for _ in range(THUMBNAIL_TRIES):
        done = await asyncio.gather(*(_hashed(http, headers, t) for t in waiting))
        waiting = [t for t, ok in zip(waiting, done, strict=True) if not ok]
        if not waiting:
            return
        await asyncio.sleep(0.1)


async def fetch_all(http: httpx.AsyncClient, headers: dict, truths: list[CaseTruth], progress):
    gate = asyncio.Semaphore(16)
    await wait_for_hashes(http, headers, truths)

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


def compare_timings(fetched: list[Fetched], ledger: Ledger, speed: float) -> dict:
    if not fetched or any(f.case is None or "timings" not in f.case for f in fetched):
        return {"compared": UNAVAILABLE}
    errors: list[dict] = []
    by_source: dict[str, float] = {}  # time source of an end -> its largest error
    within: dict[str, Counter] = {name: Counter() for name in COMPARED}
    checks: dict[str, Counter] = {name: Counter() for name in COMPARED}
    unexpected: list[dict] = []
    for f in fetched:
        server = {t["name"]: t for t in f.case["timings"]}  # type: ignore[index]
        sources = {e.get("packet_id"): e.get("source") for e in f.case.get("events", [])}  # type: ignore[union-attr]
        expected = expected_timings(f.truth)
        for name in COMPARED:
            if name in server and name not in expected:
                unexpected.append({"case_no": f.truth.plan.case_no, "timing": name})
                checks[name]["unexpected"] += 1
        for name, exp in expected.items():
            checks[name]["checked"] += 1
            timing = server.get(name)
            if timing is None:
                errors.append({"case_no": f.truth.plan.case_no, "timing": name, "missing": True})
                continue
            error = _check(f.truth.plan.case_no, name, exp, timing, sources, ledger, speed)
            errors.append(error)
            if error.get("missing"):
                continue
            checks[name]["agreed"] += not error["over"]
            for source, off in error.pop("offs"):
                by_source[source] = max(by_source.get(source, 0.0), off)
            if exp.end is None:
                continue  # still running, truly: no share within the limit yet
            truth_s = (exp.end - exp.start).total_seconds()
            limit = timing.get("limit_seconds")
            counts = within[name]
            counts["cases"] += 1
            if limit is not None:
                counts["truth_within"] += truth_s <= limit
                counts["server_within"] += timing.get("state") == "met"
    measured = [e for e in errors if "error_s" in e]
    worst = max(measured, key=lambda e: e["error_s"], default=None)
    return {
        "expected": len(errors),
        "compared": len(measured),
        "missing": sum(1 for e in errors if e.get("missing")),
        "unexpected": len(unexpected),
        "max_error_s": worst["error_s"] if worst else None,
        "max_error_gps_s": by_source.get("gps"),
        "max_error_by_source_s": by_source,
        "over_2s": sum(1 for e in measured if e["error_s"] > ACCURACY_S),
        "over_allowed": sum(1 for e in measured if e["over"]),
        "worst": worst,
        "sources": dict(Counter(e["source"] for e in measured)),
        "per_timing": {
            name: {k: c[k] for k in ("checked", "agreed", "unexpected")}
            for name, c in checks.items()
            if c
        },
        "within_limit": {
            name: {
                "cases": c["cases"],
                "truth": round(c["truth_within"] / c["cases"], 3) if c["cases"] else None,
                "server": round(c["server_within"] / c["cases"], 3) if c["cases"] else None,
            }
            for name, c in within.items()
            if c["cases"]
        },
        "examples_over": [e for e in errors if e.get("over") or e.get("missing")][:5],
        "examples_unexpected": unexpected[:5],
        "largest": sorted(measured, key=lambda e: -e["error_s"])[:5],
    }


def _check(
    case_no: str,
    name: str,
    exp: Expected,
    timing: dict,
    sources: dict,
    ledger: Ledger,
    speed: float,
) -> dict:
    """One timing against its truth: its limit's key, its start, and its end (or that it
    still runs); each instant within 2 s plus what the server cannot know."""
    error: dict[str, Any] = {"case_no": case_no, "timing": name, "source": timing.get("source")}
    over = timing.get("limit_key") != exp.limit_key
    if over:
        error["limit_key"] = {"server": timing.get("limit_key"), "truth": exp.limit_key}
    pairs = [("start", exp.start, exp.start_event, timing.get("start"))]
    if exp.end is not None:
        pairs.append(("end", exp.end, exp.end_event, timing.get("end")))
    elif timing.get("end") is not None:
        error["ended_but_truly_running"] = timing["end"]
        over = True
    worst, offs = 0.0, []
    for label, true_at, event, text in pairs:
        server_at = _when(text)
        if server_at is None:
            error["missing"] = True
            return error
        off = abs((server_at - true_at).total_seconds())
        offs.append(("desk" if event is None else str(sources.get(event.packet_id)), round(off, 3)))
        allowed = ACCURACY_S + _latency_s(event, ledger, speed)
        worst = max(worst, off)
        over = over or off > allowed
        error[f"{label}_error_s"] = round(off, 3)
        error[f"{label}_allowed_s"] = round(allowed, 3)
    error.update(error_s=round(worst, 3), over=over, offs=offs)
    return error


def _latency_s(event: Recorded | None, ledger: Ledger, speed: float) -> float:
    """What the server cannot know: an event without a GPS fix is timed through a clock
    offset measured across the network, off by up to the push's transit time × speed."""
    if event is None or event.fixed:
        return 0.0
    return ledger.push_rtt.get(event.packet_id, 0.0) * speed


def compare_workflow(
    fetched: list[Fetched], board: dict | None, pulled: set[str] | None, ledger: Ledger
) -> dict:
    """The desk's acts as done, and each closed case readable, off the board and out of
    the surveyors' first pulls (`pulled`: the cases those pulls hold)."""
    on_board = {row.get("case_id") for row in (board or {}).get("cases", [])}
    plans = [f.truth.plan for f in fetched]
    closed = [f for f in fetched if f.truth.closed_at is not None]
    readable = [f for f in closed if f.case is not None and f.case.get("status") == "closed"]
    return {
        "planned": {
            "redispatch": sum(any(g.purpose == "scene" for g in p.acts.legs) for p in plans),
            "handover": sum(any(g.purpose == "estimate" for g in p.acts.legs) for p in plans),
            "out_of_town": sum(p.zone == "out_of_town" for p in plans),
            "returns": sum(p.acts.resubmit is not None for p in plans),
            "close": sum(p.acts.close_after_s is not None for p in plans),
        },
        "done": dict(ledger.acts),
        "refused": dict(ledger.act_errors),
        "closed": len(closed),
        "closed_readable": len(readable),
        "closed_on_board": UNAVAILABLE
        if board is None
        else sum(f.truth.case_id in on_board for f in closed),
        "first_pulls_hold": UNAVAILABLE if pulled is None else len(pulled),
        "closed_pulled": UNAVAILABLE
        if pulled is None
        else sum(f.truth.case_id in pulled for f in closed),
    }
