"""Review through HTTP: the queue, approve / return, resubmit, and what the tablet pulls."""

from __future__ import annotations

import pytest

from tests.factories import at, dispatched_case, new_id
from tests.tablets import review, surveyed, timings


async def queue(client, tokens):
    response = await client.get("/v1/review/queue", headers=tokens["rev"])
    assert response.status_code == 200, response.text
    return response.json()["cases"]


async def test_no_estimate_is_409_and_nothing_is_stored(client, tokens, clock):
    case = await dispatched_case(client, tokens)
    response = await review(client, tokens, case["id"], decision="approved")
    assert response.status_code == 409
    assert response.json()["detail"] == "case: no estimate awaits review"
    assert await queue(client, tokens) == []
    missing = await review(client, tokens, new_id(), decision="approved")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "returned"}, "reason"),
        ({"decision": "returned", "reason": "  "}, "reason"),
        ({"decision": "approved", "requested": ["invoice"]}, "requested"),
        ({"decision": "maybe"}, "decision"),
        ({"decision": "returned", "reason": "x", "requested": ["selfie"]}, "requested[0]"),
    ],
)
async def test_bad_review_is_400_naming_the_field(client, tokens, clock, body, field):
    case, _ = await surveyed(client, tokens, clock)
    response = await review(client, tokens, case["id"], **body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}:")
    assert [c["case_id"] for c in await queue(client, tokens)] == [case["id"]]


async def test_only_reviewers_review(client, tokens, clock):
    case, _ = await surveyed(client, tokens, clock)
    for who in ("sv1", "disp"):
        response = await client.post(
            f"/v1/cases/{case['id']}/review", json={"decision": "approved"}, headers=tokens[who]
        )
        assert response.status_code == 403
    assert (await client.get("/v1/review/queue", headers=tokens["sv1"])).status_code == 403


async def test_queue_is_oldest_estimate_first_with_counts(client, tokens, clock):
    late, _ = await surveyed(client, tokens, clock, estimate_at=90, amount=12000)
    early, _ = await surveyed(client, tokens, clock, estimate_at=40)
    got = await queue(client, tokens)
    assert [c["case_id"] for c in got] == [early["id"], late["id"]]
    assert got[1] | {"estimate_packet_id": "-"} == {
        "case_id": late["id"],
        "case_no": late["case_no"],
        "zone": "city",
        "surveyor": "sv1",
        "estimate_packet_id": "-",
        "estimate_amount": 12000.0,
        "estimate_at": "2026-01-05T09:30:00Z",
        "photos": 2,
        "documents": 1,
        "authority_required": 12000.0,
        "within_authority": True,
    }


async def test_return_starts_resubmit_reaches_the_tablet_and_the_next_estimate_ends_it(
    client, tokens, clock
):
    case, tablet = await surveyed(client, tokens, clock)
    cursor = (await client.get("/v1/sync/pull", headers=tokens["sv1"])).json()["cursor"]
    clock.set(at(100))
    response = await review(
        client,
        tokens,
        case["id"],
        decision="returned",
        reason="VIN photo is blurred",
        requested=["vin", "invoice"],
    )
    assert response.status_code == 200, response.text
    assert response.json()["review"]["decision"] == "returned"
    assert await queue(client, tokens) == []
    again = await review(client, tokens, case["id"], decision="approved")
    assert again.status_code == 409  # the returned estimate is not up for review again

    pulled = await client.get("/v1/sync/pull", params={"cursor": cursor}, headers=tokens["sv1"])
    (view,) = pulled.json()["cases"]
    assert view["id"] == case["id"]
    assert view["review"] | {"estimate_packet_id": "-"} == {
        "decision": "returned",
        "reason": "VIN photo is blurred",
        "requested": ["vin", "invoice"],
        "reviewed_at": "2026-01-05T09:40:00Z",
        "estimate_packet_id": "-",
        "approved_amount": None,
    }
    clock.set(at(130))
    got = await timings(client, case["id"], tokens["disp"])
    assert got["resubmit"] == (1800, "running", None, [])
    assert got["front_end_cycle"] == (130 * 60, "running", None, [])  # the return reopened it

    tablet.record(case["id"], "photo", at(150), category="vin")
    tablet.record(case["id"], "estimate_submitted", at(151), amount=1700)
    clock.set(at(160))
    await tablet.flush(client, clock)
    got = await timings(client, case["id"], tokens["disp"])
    assert got["resubmit"] == (3060, "met", "device_corrected", [])
    assert got["estimate"] == (2400, "met", "device_corrected", [])  # the first estimate
    # The front-end cycle ends at the last estimate submitted, whatever the review does later.
    assert got["front_end_cycle"] == (151 * 60, "met", "device_corrected", [])
    (waiting,) = await queue(client, tokens)
    assert (waiting["estimate_amount"], waiting["photos"]) == (1700.0, 3)

    clock.set(at(200))
    approved = await review(client, tokens, case["id"], decision="approved")
    assert approved.status_code == 200
    got = await timings(client, case["id"], tokens["disp"])
    assert got["front_end_cycle"] == (151 * 60, "met", "device_corrected", [])
    assert got["resubmit"] == (3060, "met", "device_corrected", [])
    board = (await client.get("/v1/board", headers=tokens["disp"])).json()
    assert case["id"] not in [c["case_id"] for c in board["cases"]]  # approved: off the board
    detail = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
    assert detail["status"] == "approved" and detail["review"]["decision"] == "approved"
