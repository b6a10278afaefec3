"""The timing functions on their own: event times, order, flags, limits and states."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import get_args

import msgspec
import pytest

from cases.limits import DEFAULT_LIMITS, DEFAULT_TIERS, Limits, LimitsError, Tiers
from cases.timeline import CaseFacts, DispatchFact, build_timeline, distance_m, event_time
from cases.timings import ReviewFact, judge, measure, whole_seconds
from server.app import create_app
from server.routes.review import Category
from server.settings import Settings, SettingsError
from sync.packets import CATEGORIES
from tests.factories import T0, at

CASE = CaseFacts(31.2304, 121.4737, T0 - timedelta(minutes=5), "city", False)
WINDOW = timedelta(hours=24)  # the default irregular window (Settings)


@dataclass
class Row:
    """What the timeline reads of a stored packet."""

    packet_id: str
    seq: int
    kind: str
    corrected_at: datetime
    received_at: datetime
    device_id: str = "tab-1"
    surveyor_id: int = 1
    fix_time: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    category: str | None = None
    body: bytes | None = None
    body_format: str = "json"


def row(seq, kind, minute, received=120, **kw) -> Row:
    return Row(f"p{seq}", seq, kind, at(minute), at(received), **kw)


def test_defaults_are_the_domain_table_and_overrides_apply_by_key():
    limits = Limits({"arrival.city": 3})
    assert limits["arrival.city"] == 3
    assert limits["arrival.suburban"] == 3600
    assert DEFAULT_LIMITS["accept"] == 180 and DEFAULT_LIMITS["contact"] == 300
    assert DEFAULT_LIMITS["estimate.medium"] == 86400
    assert DEFAULT_LIMITS["resubmit"] == 2 * 86400
    assert DEFAULT_LIMITS["front_end_cycle.large"] == 20 * 86400
    assert (DEFAULT_LIMITS["items_fixed"], DEFAULT_LIMITS["estimate.large"]) == (
        2 * 86400,
        5 * 86400,
    )
    keys = {
        "report_to_arrival.city",
        "report_to_arrival.suburban",
        "accept",
        "contact",
        "arrival.city",
        "arrival.suburban",
        "delegation",
        "estimate.small",
        "estimate.medium",
        "estimate.large",
        "items_fixed",
        "resubmit",
        "front_end_cycle.small",
        "front_end_cycle.large",
    }
    assert set(DEFAULT_LIMITS) == keys


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"arrival.moon": 3}, "arrival.moon"), ({"accept": 0}, "accept"), ({"accept": -5}, "accept")],
)
def test_bad_limit_is_refused_naming_it(overrides, named):
    with pytest.raises(LimitsError, match=named):
        Limits(overrides)


def test_kancha_limits_from_env_reaches_the_app_or_is_refused_at_start(tmp_path):
    settings = Settings.from_env({"KANCHA_LIMITS": '{"arrival.city": 3}'})
    assert Limits(settings.limits)["arrival.city"] == 3
    bad = Settings.from_env({"KANCHA_LIMITS": '{"arival.city": 3}', "KANCHA_DATA_DIR": "x"})
    with pytest.raises(SettingsError, match=r"KANCHA_LIMITS: unknown timing limit 'arival\.city'"):
        create_app(bad)


def test_tiers_follow_the_amount_boundaries():
    # 2,000 以内 includes 2,000; over 10,000 is large.
    tier = DEFAULT_TIERS.estimate
    assert [tier(a) for a in (0, 1999.99, 2000, 2000.01, 10000, 10000.01)] == [
        "small",
        "small",
        "small",
        "medium",
        "medium",
        "large",
    ]
    assert (DEFAULT_TIERS.cycle(10000), DEFAULT_TIERS.cycle(10001)) == ("small", "large")
    moved = Tiers({"small_max": 3000, "large_above": 50000})
    assert [moved.estimate(a) for a in (3000, 3001, 50000, 50001)] == [
        "small",
        "medium",
        "medium",
        "large",
    ]


def test_tier_boundaries_that_cannot_be_used_are_refused():
    with pytest.raises(LimitsError, match="unknown tier boundary 'small'"):
        Tiers({"small": 1})
    with pytest.raises(LimitsError, match="small_max"):
        Tiers({"small_max": 20000})
    with pytest.raises(LimitsError, match="large_above: must be a whole number"):
        Tiers({"large_above": -5})


def test_review_categories_are_the_packet_categories():
    assert set(get_args(Category)) == set(CATEGORIES)


def test_event_time_prefers_a_plausible_gps_fix():
    fix = at(10) - timedelta(seconds=20)
    assert event_time(row(1, "arrived", 10, fix_time=fix)) == (fix, "gps", [])


def test_gps_fix_far_from_the_device_time_or_after_receipt_is_not_believed():
    stale = row(1, "arrived", 10, fix_time=at(10) - timedelta(minutes=6))
    assert event_time(stale) == (
        at(10),
        "device_corrected",
        ["gps_time_implausible", "stale_fix"],  # older than the device time by over 5 min
    )
    future = row(2, "arrived", 10, received=10.5, fix_time=at(11))
    assert event_time(future)[1:] == ("device_corrected", ["gps_time_implausible"])


def test_device_time_after_receipt_falls_back_to_the_servers_receipt():
    late = row(1, "accepted", 30, received=20)
    assert event_time(late) == (at(20), "server_received", ["device_time_after_receipt"])


def test_order_is_by_seq_within_a_device_and_by_time_across_devices():
    rows = [
        row(2, "contacted", 3),
        row(1, "accepted", 4),  # the tablet's clock stepped back between seq 1 and 2
        Row("q1", 1, "note", at(3.5), at(120), device_id="tab-2"),
    ]
    dispatches = [DispatchFact(1, T0)]
    for shuffled in (rows, list(reversed(rows))):
        timeline = build_timeline(CASE, shuffled, dispatches, WINDOW)
        assert [e.packet_id for e in timeline] == ["q1", "p1", "p2"]
        assert timeline[2].flags == ["time_before_previous"]


def test_flags_before_dispatch_before_report_and_far_arrival():
    rows = [
        row(1, "accepted", -1),
        row(2, "photo", -10),
        row(3, "arrived", 20, lat=31.2404, lon=121.4737, accuracy_m=900),
        Row("x", 1, "arrived", at(25), at(120), device_id="tab-3"),
    ]
    timeline = build_timeline(CASE, rows, [DispatchFact(1, T0)], WINDOW)
    flags = {e.packet_id: e.flags for e in timeline}
    assert flags["p1"] == ["before_dispatch"]
    assert flags["p2"] == ["time_before_previous", "before_dispatch", "before_report"]
    assert flags["p3"] == ["far_from_scene", "fix_inaccurate"]
    assert flags["x"] == ["arrival_without_fix"]
    assert 1100 < distance_m(31.2304, 121.4737, 31.2404, 121.4737) < 1120


def test_states_and_whole_seconds():
    limits = Limits()
    accept = next(m for m in measure(CASE, [], [DispatchFact(1, T0)], []) if m.name == "accept")
    assert judge(accept, limits, at(3)).state == "running"
    assert judge(accept, limits, at(3) + timedelta(microseconds=1)).state == "overdue"
    accept.end = at(3)
    assert (judge(accept, limits, at(99)).state, judge(accept, limits, at(99)).seconds) == (
        "met",
        180,
    )
    accept.end = at(3) + timedelta(milliseconds=1)
    assert (judge(accept, limits, at(99)).state, judge(accept, limits, at(99)).seconds) == (
        "missed",
        181,
    )
    assert whole_seconds(at(5), at(4)) == 0


def test_redispatch_restarts_and_the_old_surveyors_events_end_nothing():
    dispatches = [DispatchFact(1, T0), DispatchFact(2, at(20))]
    rows = [
        row(1, "accepted", 1, received=2),
        row(2, "contacted", 10, received=30),  # sv 1, flushed after the case was taken away
        row(3, "arrived", 25, received=30, lat=CASE.lat, lon=CASE.lon),
        Row("n1", 1, "accepted", at(21), at(22), device_id="tab-2", surveyor_id=2),
    ]
    timeline = build_timeline(CASE, rows, dispatches, WINDOW)
    assert {e.packet_id: e.flags for e in timeline}["p3"] == ["not_dispatched_surveyor"]
    timings = {m.name: m for m in measure(CASE, timeline, dispatches, [])}
    assert timings["accept"].start == at(20) and timings["accept"].end == at(21)
    assert timings["contact"].end is None and timings["arrival"].end is None


def _estimate(seq, minute, amount, received=300):
    body = msgspec.json.encode({"data": {"amount": amount}})
    return row(seq, "estimate_submitted", minute, received=received, body=body)


def test_estimate_tier_start_and_resubmit_after_a_return():
    dispatches = [DispatchFact(1, T0)]
    rows = [
        row(1, "arrived", 20, lat=CASE.lat, lon=CASE.lon),
        row(2, "survey_completed", 50),
        _estimate(3, 80, 5000),
        _estimate(4, 200, 4000),
    ]
    timeline = build_timeline(CASE, rows, dispatches, WINDOW)
    returned = ReviewFact("returned", at(100), "p3")
    timings = {m.name: m for m in measure(CASE, timeline, dispatches, [returned])}
    estimate = timings["estimate"]
    assert (estimate.limit_key, estimate.start, estimate.end) == ("estimate.medium", at(50), at(80))
    assert (timings["resubmit"].start, timings["resubmit"].end) == (at(100), at(200))
    # The cycle ends at the last estimate submitted, not at its approval ...
    assert timings["front_end_cycle"].end == at(200)
    assert timings["front_end_cycle"].limit_key == "front_end_cycle.small"
    approved = ReviewFact("approved", at(210), "p4")
    timings = {m.name: m for m in measure(CASE, timeline, dispatches, [returned, approved])}
    assert timings["front_end_cycle"].end == at(200)
    # ... and a return of that estimate reopens it.
    again = ReviewFact("returned", at(220), "p4")
    timings = {m.name: m for m in measure(CASE, timeline, dispatches, [returned, again])}
    assert timings["front_end_cycle"].end is None


def test_any_arrival_order_gives_the_same_timings():
    dispatches = [DispatchFact(1, T0)]
    rows = [
        row(1, "accepted", 1),
        row(2, "contacted", 2),
        row(3, "arrived", 20, fix_time=at(19.9), lat=CASE.lat, lon=CASE.lon),
        row(4, "survey_completed", 40),
        _estimate(5, 60, 800),
        Row("q1", 1, "contacted", at(1.5), at(120), device_id="tab-2"),
    ]
    expected = None
    rng = random.Random(6)
    for _ in range(20):
        rng.shuffle(rows)
        timeline = build_timeline(CASE, rows, dispatches, WINDOW)
        got = [
            (m.name, m.start, m.end, m.source, m.flags)
            for m in measure(CASE, timeline, dispatches, [])
        ]
        expected = expected or got
        assert got == expected
    assert dict((n, e) for n, _s, e, _src, _f in expected)["contact"] == at(1.5)
