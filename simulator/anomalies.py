"""Planted anomalies against the flags the server raised: a photo reused on another case,
an arrival fix far from the scene, the late packets of a surveyor the case was taken
from (each must be flagged `not_dispatched_surveyor`), and doctored photos (a resized,
re-encoded copy of another case's photo, one without EXIF, one edited in Photoshop: each
must carry its flag); any other flag is listed."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from simulator.compare import UNAVAILABLE, Fetched

NOT_DISPATCHED = "not_dispatched_surveyor"
# Doctored photo (simulator/photos.py) -> (planted kind, the flag it must carry).
DOCTORED = {
    "recoded": ("near_duplicate", "near_duplicate"),
    "no_exif": ("no_exif", "no_exif"),
    "photoshop": ("edited_exif", "editing_software"),
}


def _taken_from(f: Fetched) -> tuple[set[str], set[str]]:
    """Packets a surveyor recorded after the case was taken from them (flagged, surely),
    and all their packets (flagged when received after it: sent late)."""
    late, theirs = set(), set()
    for leg, following in pairwise(f.truth.legs):
        if following.purpose == "scene" and following.dispatched_at is not None:
            late |= {e.packet_id for e in leg.events if e.at >= following.dispatched_at}
            theirs |= {e.packet_id for e in leg.events}
    return late, theirs


def compare_anomalies(fetched: list[Fetched]) -> dict:
    if not fetched or any(f.case is None or f.media is None for f in fetched):
        return {"planted": UNAVAILABLE}
    planted: Counter = Counter()
    flagged: Counter = Counter()
    unflagged: list[str] = []
    unplanted: Counter = Counter()
    reused = {f.truth.reused_sha for f in fetched if f.truth.reused_sha}
    # The originals the recoded copies were found near: flagged near_duplicate in turn.
    near_sources = {
        near["sha256"]
        for f in fetched
        for item in f.media or []
        if item["sha256"] in f.truth.doctored
        for near in item.get("near_duplicates", [])
    }
    for f in fetched:
        case, plan = f.case or {}, f.truth.plan
        events = case.get("events", [])
        late, theirs = _taken_from(f)
        # Packets of a surveyor who no longer held the case: flagged, timing nothing.
        expected_late = [e for e in events if e.get("packet_id") in late]
        others = [e for e in events if e.get("packet_id") not in late]
        if late:
            planted["taken_from"] += 1
            if len(expected_late) == len(late) and all(
                NOT_DISPATCHED in e.get("flags", []) for e in expected_late
            ):
                flagged["taken_from"] += 1
            else:
                unflagged.append(f"{plan.case_no}: late packets of the previous surveyor")
        arrival_flags = [
            flag for e in others if e.get("kind") == "arrived" for flag in e.get("flags", [])
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
        items = {item["sha256"]: item for item in f.media or []}
        for sha, doctor in f.truth.doctored.items():
            kind, flag = DOCTORED[doctor]
            planted[kind] += 1
            if flag in items.get(sha, {}).get("flags", []):
                flagged[kind] += 1
            else:
                unflagged.append(f"{plan.case_no}: {kind.replace('_', ' ')} photo")
        for item in f.media or []:
            flags = item.get("flags", [])
            if item["sha256"] in f.truth.doctored:
                expected = DOCTORED[f.truth.doctored[item["sha256"]]][1]
                flags = [flag for flag in flags if flag != expected]
            if item["sha256"] in near_sources:
                flags = [flag for flag in flags if flag != "near_duplicate"]
            if item["sha256"] not in reused:
                unplanted.update(flags)
        for e in others:
            if e.get("kind") != "arrived":
                unplanted.update(
                    flag
                    for flag in e.get("flags", [])
                    if flag != NOT_DISPATCHED or e.get("packet_id") not in theirs
                )
        for e in expected_late:
            unplanted.update(flag for flag in e.get("flags", []) if flag != NOT_DISPATCHED)
    return {
        "planted": dict(planted),
        "flagged": dict(flagged),
        "unflagged": unflagged,
        "unplanted_flags": dict(unplanted),
    }
