"""A case's status follows its lifecycle from the log, whatever order packets arrive in."""

from __future__ import annotations

from tests.factories import T0, at, dispatched_case
from tests.tablets import Tablet, case_read


async def status(client, case_id, tokens) -> str:
    return (await case_read(client, case_id, tokens["disp"]))["status"]


async def test_status_is_the_furthest_milestone_reached_then_the_review(client, tokens, clock):
    clock.set(T0)
    case = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"])
    accepted = tablet.record(case["id"], "accepted", at(1))
    tablet.record(case["id"], "contacted", at(2))
    arrived = tablet.record(case["id"], "arrived", at(20), gps=True)
    clock.set(at(21))
    await tablet.flush(client, clock, [arrived])  # the arrival gets through first
    assert await status(client, case["id"], tokens) == "arrived"
    await tablet.flush(client, clock, [accepted])  # a late, earlier milestone changes nothing
    assert await status(client, case["id"], tokens) == "arrived"

    tablet.record(case["id"], "survey_completed", at(30))
    tablet.record(case["id"], "estimate_submitted", at(40), amount=3000)
    clock.set(at(41))
    await tablet.flush(client, clock)
    assert await status(client, case["id"], tokens) == "estimate_submitted"

    review = f"/v1/cases/{case['id']}/review"
    returned = {"decision": "returned", "reason": "no invoice", "requested": ["invoice"]}
    assert (await client.post(review, json=returned, headers=tokens["rev"])).status_code == 200
    assert await status(client, case["id"], tokens) == "returned"
    tablet.record(case["id"], "estimate_submitted", at(50), amount=3100)
    clock.set(at(51))
    await tablet.flush(client, clock)
    assert await status(client, case["id"], tokens) == "estimate_submitted"
    approved = {"decision": "approved"}
    assert (await client.post(review, json=approved, headers=tokens["rev"])).status_code == 200
    assert await status(client, case["id"], tokens) == "approved"


async def test_a_redispatch_puts_the_case_back_to_dispatched(client, tokens, clock):
    clock.set(T0)
    case = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"])
    tablet.record(case["id"], "accepted", at(1))
    clock.set(at(2))
    await tablet.flush(client, clock)
    assert await status(client, case["id"], tokens) == "accepted"
    redispatch = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv2"}, headers=tokens["disp"]
    )
    assert redispatch.status_code == 200
    assert await status(client, case["id"], tokens) == "dispatched"
