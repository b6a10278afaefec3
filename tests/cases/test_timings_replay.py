"""Whole days replayed through HTTP with an injected clock, every timing checked to the second.

Each tablet records events at known true times on its own (wrong) clock and flushes when
the test gives it signal; the server only ever sees what a real tablet would send.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import dispatched_case
from tests.tablets import SCENE, Tablet, case_read, timings

DAY = datetime(2026, 1, 5, tzinfo=UTC)


def t(hh: int, mm: int, ss: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


async def dispatch(client, tokens, case_id, surveyor):
    response = await client.post(
        f"/v1/cases/{case_id}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_day_with_a_slow_and_a_fast_tablet(client, tokens, clock):
    clock.set(t(8, 0))
    a = await dispatched_case(client, tokens, surveyor="sv1", zone="city")
    slow = Tablet(tokens["sv1"], skew=timedelta(seconds=-90))
    slow.record(a["id"], "accepted", t(8, 1, 10))
    slow.record(a["id"], "contacted", t(8, 3, 20))
    clock.set(t(8, 5))
    assert (await slow.flush(client, clock))["clock_offset_ms"] == 90_000

    clock.set(t(8, 10))
    b = await dispatched_case(
        client, tokens, surveyor="sv2", zone="suburban", simple_procedure=False
    )
    fast = Tablet(tokens["sv2"], skew=timedelta(hours=1, minutes=3))
    fast.record(b["id"], "accepted", t(8, 14))
    fast.record(b["id"], "contacted", t(8, 14, 30))
    clock.set(t(8, 15))
    assert (await fast.flush(client, clock))["clock_offset_ms"] == -3_780_000

    slow.record(a["id"], "departed", t(8, 6))
    slow.record(a["id"], "arrived", t(8, 24, 35), gps=True)
    slow.record(a["id"], "photo", t(8, 26), category="damage")
    slow.record(a["id"], "document", t(8, 27), category="driving_licence")
    slow.record(a["id"], "survey_completed", t(8, 50))
    slow.record(a["id"], "estimate_submitted", t(9, 10), amount=1500)
    clock.set(t(9, 12))
    await slow.flush(client, clock)
    assert await timings(client, a["id"], tokens["disp"]) == {
        "accept": (70, "met", "device_corrected", []),
        "contact": (200, "met", "device_corrected", []),
        "arrival": (1475, "met", "gps", []),
        "estimate": (2725, "met", "device_corrected", []),  # small: from arrival, 2 h
        "front_end_cycle": (4200, "met", "device_corrected", []),
    }

    fast.record(b["id"], "arrived", t(9, 20), gps={**SCENE, "accuracy_m": 30})
    fast.record(b["id"], "survey_completed", t(9, 50))
    fast.record(b["id"], "estimate_submitted", t(12, 0), amount=8000)
    clock.set(t(12, 5))
    await fast.flush(client, clock)
    case = await case_read(client, b["id"], tokens["disp"])
    assert {x["name"]: x["limit_seconds"] for x in case["timings"]}["arrival"] == 3600
    assert await timings(client, b["id"], tokens["disp"]) == {
        "accept": (240, "missed", "device_corrected", []),
        "contact": (270, "met", "device_corrected", []),
        "arrival": (4200, "missed", "device_corrected", []),
        "estimate": (7800, "met", "device_corrected", []),  # medium: from survey, 24 h
        "front_end_cycle": (13800, "met", "device_corrected", []),
    }
    assert [(e["seq"], e["kind"], e["time"], e["source"]) for e in case["events"]] == [
        (1, "accepted", "2026-01-05T08:14:00Z", "device_corrected"),
        (2, "contacted", "2026-01-05T08:14:30Z", "device_corrected"),
        (3, "arrived", "2026-01-05T09:20:00Z", "device_corrected"),
        (4, "survey_completed", "2026-01-05T09:50:00Z", "device_corrected"),
        (5, "estimate_submitted", "2026-01-05T12:00:00Z", "device_corrected"),
    ]


async def test_a_day_late_flush_turns_overdue_into_exact_timings(client, tokens, clock):
    clock.set(t(8, 0))
    case = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"], skew=timedelta(minutes=3))  # 3 min fast, and offline
    tablet.record(case["id"], "accepted", t(8, 2))
    tablet.record(case["id"], "contacted", t(8, 6))
    tablet.record(case["id"], "arrived", t(8, 40, 15), gps=True)
    clock.set(t(8, 45))
    assert await timings(client, case["id"], tokens["disp"]) == {
        "accept": (2700, "overdue", None, []),
        "contact": (2700, "overdue", None, []),
        "arrival": (2700, "overdue", None, []),
        "front_end_cycle": (2700, "running", None, []),
    }
    board = (await client.get("/v1/board", headers=tokens["disp"])).json()
    row = next(c for c in board["cases"] if c["case_id"] == case["id"])
    assert {x["name"]: x["seconds_left"] for x in row["timings"]} == {
        "report_to_arrival": 1800 - 3000,  # the customer has waited since the report
        "accept": 180 - 2700,
        "contact": 300 - 2700,
        "arrival": 1800 - 2700,
        "front_end_cycle": 5 * 86400 - 2700,
    }
    assert row["position"] is None

    clock.set(t(9, 0, day=1))
    assert (await tablet.flush(client, clock))["clock_offset_ms"] == -180_000
    assert await timings(client, case["id"], tokens["disp"]) == {
        "accept": (120, "met", "device_corrected", []),
        "contact": (360, "missed", "device_corrected", []),
        "arrival": (2415, "missed", "gps", []),
        # simple procedure: the estimate was due on site, 2 h after arrival
        "estimate": (87585, "overdue", None, []),
        "front_end_cycle": (90000, "running", None, []),
    }
    board = (await client.get("/v1/board", headers=tokens["disp"])).json()
    row = next(c for c in board["cases"] if c["case_id"] == case["id"])
    assert [x["name"] for x in row["timings"]] == ["estimate", "front_end_cycle"]
    assert row["surveyor"] == "sv1"
    assert row["position"] == {**SCENE, "at": "2026-01-05T08:40:15Z", "case_id": case["id"]}


async def test_out_of_order_batches_and_duplicates_give_the_same_timings(client, tokens, clock):
    clock.set(t(8, 0))
    in_order = await dispatched_case(client, tokens, surveyor="sv1")
    shuffled = await dispatched_case(client, tokens, surveyor="sv1")
    tablets = {}
    for case in (in_order, shuffled):
        tablet = tablets[case["id"]] = Tablet(tokens["sv1"], skew=timedelta(seconds=-40))
        tablet.record(case["id"], "accepted", t(8, 2, 30))
        tablet.record(case["id"], "contacted", t(8, 4, 59))
        tablet.record(case["id"], "departed", t(8, 6))
        tablet.record(case["id"], "arrived", t(8, 29, 1), gps=True)
        tablet.record(case["id"], "estimate_submitted", t(8, 59, 1), amount=600)
    clock.set(t(9, 0))
    await tablets[in_order["id"]].flush(client, clock)
    tablet = tablets[shuffled["id"]]
    batch = list(tablet.queue)
    first = await tablet.flush(client, clock, [batch[4], batch[3]])  # the later batch first
    assert (first["acked_through"], first["missing"]) == (0, [1, 2, 3])
    await tablet.flush(client, clock, [batch[2], batch[0], batch[1]])
    again = await tablet.flush(client, clock, batch)  # the whole queue re-sent
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 5
    expected = {
        "accept": (150, "met", "device_corrected", []),
        "contact": (299, "met", "device_corrected", []),
        "arrival": (1741, "met", "gps", []),
        "estimate": (1800, "met", "device_corrected", []),
        "front_end_cycle": (3541, "met", "device_corrected", []),
    }
    assert await timings(client, in_order["id"], tokens["disp"]) == expected
    assert await timings(client, shuffled["id"], tokens["disp"]) == expected
    events = (await case_read(client, shuffled["id"], tokens["disp"]))["events"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]


async def test_redispatch_restarts_timings_and_the_old_surveyor_ends_none(client, tokens, clock):
    clock.set(t(8, 0))
    case = await dispatched_case(client, tokens, surveyor="sv1")
    first = Tablet(tokens["sv1"])
    first.record(case["id"], "accepted", t(8, 2))
    clock.set(t(8, 3))
    await first.flush(client, clock)
    clock.set(t(8, 20))
    await dispatch(client, tokens, case["id"], "sv2")
    first.record(case["id"], "contacted", t(8, 10))
    first.record(case["id"], "arrived", t(8, 30), gps=True)
    clock.set(t(8, 35))
    await first.flush(client, clock)  # taken in, but from someone who no longer holds it
    assert await timings(client, case["id"], tokens["disp"]) == {
        "accept": (900, "overdue", None, []),
        "contact": (900, "overdue", None, []),
        "arrival": (900, "running", None, []),
        "front_end_cycle": (900, "running", None, []),
    }
    second = Tablet(tokens["sv2"], skew=timedelta(seconds=-7))
    second.record(case["id"], "accepted", t(8, 21))
    second.record(case["id"], "contacted", t(8, 23))
    second.record(case["id"], "arrived", t(8, 45), gps=True)
    clock.set(t(8, 46))
    await second.flush(client, clock)
    assert await timings(client, case["id"], tokens["disp"]) == {
        "accept": (60, "met", "device_corrected", []),
        "contact": (180, "met", "device_corrected", []),
        "arrival": (1500, "met", "gps", []),
        "estimate": (60, "running", None, []),
        "front_end_cycle": (1560, "running", None, []),
    }
    events = (await case_read(client, case["id"], tokens["disp"]))["events"]
    assert [(e["kind"], e["current"], e["flags"]) for e in events] == [
        ("accepted", False, []),
        ("contacted", False, ["not_dispatched_surveyor"]),
        ("accepted", True, []),
        ("contacted", True, []),
        ("arrived", False, ["not_dispatched_surveyor"]),
        ("arrived", True, []),
    ]


async def test_anomalies_are_flagged_not_dropped(client, tokens, clock):
    clock.set(t(8, 0))
    case = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"])
    tablet.record(case["id"], "accepted", t(7, 58))  # stamped before the dispatch
    far = {"lat": SCENE["lat"] + 0.008, "lon": SCENE["lon"], "accuracy_m": 10}
    tablet.record(case["id"], "arrived", t(8, 20), gps={**far, "fix_time": "2026-01-05T07:00:00Z"})
    clock.set(t(8, 30))
    await tablet.flush(client, clock)
    got = await timings(client, case["id"], tokens["disp"])
    assert got["accept"] == (0, "met", "device_corrected", ["before_dispatch", "end_before_start"])
    assert got["arrival"] == (
        1200,
        "met",
        "device_corrected",
        ["gps_time_implausible", "stale_fix", "far_from_scene"],
    )
    assert got["contact"] == (1800, "overdue", None, [])
