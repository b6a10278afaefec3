"""The verdict: a short text report, the same as JSON, and the exit status."""

from __future__ import annotations

from typing import Any

from simulator.compare import UNAVAILABLE


def failures(result: dict[str, Any]) -> list[str]:
    found = []
    packets, photos = result["packets"], result["photos"]
    timings, anomalies = result["timings"], result["anomalies"]
    if packets.get("stored") == UNAVAILABLE:
        found.append(f"packets: stored {UNAVAILABLE} (case events)")
    else:
        for key in ("lost", "stored_twice"):
            if packets[key]:
                found.append(f"packets: {packets[key]} {key.replace('_', ' ')}")
    for key in ("rejected", "unsent"):
        if packets[key]:
            found.append(f"packets: {packets[key]} {key}")
    if photos.get("stored") == UNAVAILABLE:
        found.append(f"photos: stored {UNAVAILABLE} (case media)")
    else:
        for key in ("corrupted", "missing"):
            if photos[key]:
                found.append(f"photos: {photos[key]} {key}")
    if timings["compared"] == UNAVAILABLE:
        found.append(f"timings: {UNAVAILABLE}")
    else:
        if timings["over_allowed"]:
            found.append(f"timings: {timings['over_allowed']} off by more than allowed")
        if timings["missing"]:
            found.append(f"timings: {timings['missing']} missing or not ended")
        if timings.get("unexpected"):
            found.append(f"timings: {timings['unexpected']} reported that the truth has not")
    if anomalies["planted"] == UNAVAILABLE:
        found.append(f"anomalies: flags {UNAVAILABLE}")
    elif anomalies["unflagged"]:
        found.append(f"anomalies: {len(anomalies['unflagged'])} planted but not flagged")
    found += _workflow_failures(result.get("workflow"))
    tamper = result.get("tamper")
    if tamper and tamper.get("planted") and not tamper["named"]:
        found.append("tamper: kancha verify did not name the packet edited behind its back")
    return found


def _workflow_failures(workflow: dict[str, Any] | None) -> list[str]:
    if not workflow:
        return []
    found = []
    refused = sum(workflow["refused"].values())
    if refused:
        found.append(f"workflow: {refused} desk acts refused or failed")
    if workflow["closed_readable"] != workflow["closed"]:
        unread = workflow["closed"] - workflow["closed_readable"]
        found.append(f"workflow: {unread} closed cases not readable as closed")
    if workflow["closed_on_board"] == UNAVAILABLE:
        found.append(f"workflow: board {UNAVAILABLE}")
    elif workflow["closed_on_board"]:
        found.append(f"workflow: {workflow['closed_on_board']} closed cases still on the board")
    if workflow["closed_pulled"] == UNAVAILABLE:
        found.append(f"workflow: first pulls {UNAVAILABLE}")
    elif workflow["closed_pulled"]:
        found.append(f"workflow: {workflow['closed_pulled']} closed cases in a first pull")
    return found


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def text_report(result: dict[str, Any]) -> str:
    day, p, m = result["day"], result["packets"], result["photos"]
    t, a = result["timings"], result["anomalies"]
    lines = [
        f"kancha simulate: {day['devices']} tablets, {day['cases']} cases, "
        f"{day['simulated_hours']:.1f} h of field time in {day['real_seconds']:.0f} s "
        f"(speed {day['speed']:g})",
        f"packets  sent {p['sent']}  stored {p.get('stored')}  lost {p.get('lost', '-')}  "
        f"stored twice {p.get('stored_twice', '-')}  rejected {p['rejected']}  "
        f"({p['pushes']} pushes; {p['batches_flushed_twice']} batches sent twice, "
        f"{p['batches_raced']} raced, {p['batches_reordered']} reordered, "
        f"{p['flushes_after_offline']} flushes after no signal, "
        f"{p.get('clock_corrected_midqueue', 0)} stamped by a wrong clock and sent corrected)",
        f"photos   sent {m['sent']}  stored {m.get('stored')}  corrupted {m.get('corrupted', '-')}"
        f"  missing {m.get('missing', '-')}  (PUT {m['uploads_put']}, tus {m['uploads_tus']}, "
        f"{m['tus_resumed_midway']} resumed midway)",
    ]
    if t["compared"] == UNAVAILABLE:
        lines.append(f"timings  {UNAVAILABLE}")
    else:
        lines.append(
            f"timings  compared {t['compared']}  largest error {t['max_error_s']} s "
            f"(GPS-timed {t['max_error_gps_s']} s)  over 2 s {t['over_2s']}  "
            f"over allowed {t['over_allowed']}  missing {t['missing']}"
        )
        shares = ", ".join(
            f"{name} {_share(w['server'])} (truth {_share(w['truth'])})"
            for name, w in t["within_limit"].items()
        )
        lines.append(f"within limit  {shares}")
        lines.append(
            "agreed   "
            + ", ".join(
                f"{name} {c['agreed']}/{c['checked']}"
                + (f" ({c['unexpected']} unexpected)" if c["unexpected"] else "")
                for name, c in t["per_timing"].items()
            )
        )
    w = result.get("workflow")
    if w:
        done = w["done"]
        lines.append(
            f"workflow re-dispatched {done.get('dispatch (scene)', 0)}/"
            f"{w['planned']['redispatch']}  handed over {done.get('dispatch (estimate)', 0)}/"
            f"{w['planned']['handover']}  delegated {done.get('delegate', 0)}/"
            f"{w['planned']['out_of_town']}  returned {done.get('review (returned)', 0)}/"
            f"{w['planned']['returns']}  approved {done.get('review (approved)', 0)}  "
            f"closed {w['closed']}/{w['planned']['close']} (readable {w['closed_readable']}, "
            f"on the board {w['closed_on_board']}, in a first pull {w['closed_pulled']})  "
            f"refused {w['refused'] or 'none'}"
        )
    if a["planted"] == UNAVAILABLE:
        lines.append(f"anomalies {UNAVAILABLE}")
    else:
        lines.append(
            f"anomalies planted {a['planted']}  flagged {a['flagged']}  "
            f"unflagged {len(a['unflagged'])}  other flags {a['unplanted_flags'] or 'none'}"
        )
    tamper = result.get("tamper")
    if tamper and tamper.get("planted"):
        lines.append(
            f"tamper   edited {tamper['planted']}; kancha verify exit {tamper['verify_before']} "
            f"before, {tamper['verify_after']} after: {tamper['message'] or '(nothing said)'}"
        )
    for note in result.get("notes", [])[:5]:
        lines.append(f"note: {note}")
    lines.append("OK" if result["ok"] else "FAILED: " + "; ".join(result["failures"]))
    return "\n".join(lines)
