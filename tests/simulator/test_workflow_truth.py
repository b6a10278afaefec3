"""The simulator's own statement of the timing rules (simulator/expect.py) on hand-made
truths, which the comparison holds the server to, and the workflow's plan (acts.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simulator.expect import expected_timings
from simulator.plan import Acts, CasePlan, Leg, Options, plan_day
from simulator.truth import CaseTruth

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _case(zone: str = "city", amount: int = 1500, simple: bool = True, legs=()) -> CaseTruth:
    plan = CasePlan(
        index=0,
        device=0,
        case_no="SIM-1",
        zone=zone,
        lat=31.2,
        lon=121.4,
        address="here",
        simple=simple,
        amount=amount,
        gap_before_s=0,
        report_lead_s=0,
        steps=[],
        acts=Acts(legs=[Leg(device, purpose, 0, []) for device, purpose in legs]),
    )
    truth = CaseTruth(plan, case_id="c1", reported_at=_at(-5))
    truth.dispatched_at = _at(0)
    return truth


def _events(truth: CaseTruth, leg: int, *kinds_at: tuple[str, float]) -> None:
    for number, (kind, minutes) in enumerate(kinds_at):
        truth.record(leg, kind, _at(minutes), True, f"p{leg}-{number}-{kind}")


def test_a_redispatch_times_the_second_surveyor_and_ignores_the_first_ones_late_arrival():
    truth = _case(legs=[(1, "scene")])
    truth.legs[1].dispatched_at = _at(10)
    _events(truth, 0, ("accepted", 1), ("contacted", 2), ("arrived", 15))  # taken at 10
    _events(truth, 1, ("accepted", 11), ("contacted", 12), ("arrived", 40))
    _events(truth, 1, ("survey_completed", 50), ("estimate_submitted", 55))
    expected = expected_timings(truth)
    assert (expected["accept"].start, expected["accept"].end) == (_at(10), _at(11))
    assert (expected["arrival"].start, expected["arrival"].end) == (_at(10), _at(40))
    assert (expected["report_to_arrival"].start, expected["report_to_arrival"].end) == (
        _at(-5),
        _at(40),
    )
    assert expected["estimate"].limit_key == "estimate.small"
    assert (expected["estimate"].start, expected["estimate"].end) == (_at(40), _at(55))
    assert expected["front_end_cycle"].start == _at(10)


def test_a_handover_keeps_the_scene_timings_and_times_the_large_estimate_from_disassembly():
    truth = _case(amount=30_000, simple=False, legs=[(1, "estimate")])
    _events(truth, 0, ("accepted", 1), ("contacted", 2), ("arrived", 20), ("survey_completed", 40))
    truth.legs[1].dispatched_at = _at(60)
    _events(truth, 1, ("survey_completed", 80), ("disassembled", 90), ("items_fixed", 120))
    _events(truth, 1, ("estimate_submitted", 150))
    expected = expected_timings(truth)
    assert (expected["arrival"].start, expected["arrival"].end) == (_at(0), _at(20))
    assert expected["estimate"].limit_key == "estimate.large"
    assert (expected["estimate"].start, expected["estimate"].end) == (_at(90), _at(150))
    assert (expected["items_fixed"].start, expected["items_fixed"].end) == (_at(90), _at(120))
    assert expected["front_end_cycle"].limit_key == "front_end_cycle.large"
    assert (expected["front_end_cycle"].start, expected["front_end_cycle"].end) == (
        _at(60),
        _at(150),
    )


def test_an_out_of_town_case_is_timed_by_its_delegation_alone():
    truth = _case(zone="out_of_town")
    _events(truth, 0, ("accepted", 1), ("contacted", 3))
    truth.delegated_at = _at(25)
    expected = expected_timings(truth)
    assert set(expected) == {"accept", "contact", "delegation", "front_end_cycle"}
    assert (expected["delegation"].start, expected["delegation"].end) == (_at(0), _at(25))
    assert expected["front_end_cycle"].end is None  # no estimate: it runs


def test_a_return_starts_resubmit_and_reopens_the_cycle_until_the_next_estimate():
    truth = _case(amount=1500, simple=False)
    _events(truth, 0, ("arrived", 20), ("survey_completed", 30), ("estimate_submitted", 40))
    truth.reviews.append(("returned", _at(60)))
    expected = expected_timings(truth)
    assert expected["estimate"].limit_key == "estimate.medium"  # small, not simple: 24 h
    assert (expected["estimate"].start, expected["estimate"].end) == (_at(30), _at(40))
    assert (expected["resubmit"].start, expected["resubmit"].end) == (_at(60), None)
    assert expected["front_end_cycle"].end is None
    _events(truth, 0, ("estimate_submitted", 90))
    truth.reviews.append(("approved", _at(100)))
    expected = expected_timings(truth)
    assert (expected["resubmit"].start, expected["resubmit"].end) == (_at(60), _at(90))
    assert expected["front_end_cycle"].end == _at(90)
    assert expected["estimate"].end == _at(40)  # the first estimate ends the estimate timing


def test_a_case_never_dispatched_expects_nothing():
    truth = _case()
    truth.dispatched_at = None
    assert expected_timings(truth) == {}


def test_the_plan_gives_each_share_its_cases_and_the_first_surveyor_arrives_first():
    opts = Options(devices=3, cases=8, redispatch=0.25, handover=0.25, out_of_town=0.25)
    cases = [c for d in plan_day(opts, "t") for c in d.cases]
    redispatched = [c for c in cases if c.acts.legs and c.acts.legs[0].purpose == "scene"]
    handed_over = [c for c in cases if c.acts.legs and c.acts.legs[0].purpose == "estimate"]
    assert len(redispatched) == len(handed_over) == 2
    assert sum(c.zone == "out_of_town" for c in cases) == 2
    for case in redispatched:
        leg = case.acts.legs[0]
        assert leg.device != case.device
        assert not any(s.kind == "arrived" for s in case.steps)  # only after it was taken
        late_arrival = next(s for s in leg.previous_steps if s.kind == "arrived")
        their_arrival = next(s for s in leg.steps if s.kind == "arrived")
        assert late_arrival.leg == 0 and their_arrival.leg == 1
        assert late_arrival.after_s < their_arrival.after_s
    for case in handed_over:
        assert case.amount > 10_000
        assert [s.kind for s in case.acts.legs[0].steps][-3:] == [
            "disassembled",
            "items_fixed",
            "estimate_submitted",
        ]
        assert not any(s.kind == "estimate_submitted" for s in case.steps)
