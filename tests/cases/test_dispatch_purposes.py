"""A dispatch has a purpose: only a scene dispatch restarts accept/contact/arrival; an
estimate handover, re-survey or document pickup does not, and the customer's wait
(`report_to_arrival`) runs from the report to the first arrival of anyone."""

from __future__ import annotations

from tests.factories import dispatched_case, new_id, packet, push, push_body


async def _dispatch(client, tokens, case_id, surveyor, purpose=None):
    body = {"surveyor": surveyor} | ({"purpose": purpose} if purpose else {})
    response = await client.post(f"/v1/cases/{case_id}/dispatch", json=body, headers=tokens["disp"])
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json()["timings"]}, response.json()


async def _arrive(client, tokens, case_id, who="sv1"):
    arrived = packet(case_id, 1, "arrived", occurred_at="2026-01-05T16:20:00+08:00")
    sent = await push(client, tokens[who], push_body(new_id(), [arrived]))
    assert sent.json()["results"][0]["status"] == "accepted", sent.text


async def test_an_estimate_handover_keeps_the_scene_timings(client, tokens, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    clock.advance(minutes=25)
    await _arrive(client, tokens, case["id"])
    clock.advance(hours=2)
    timings, body = await _dispatch(client, tokens, case["id"], "sv2", "estimate")
    assert body["dispatches"][-1]["purpose"] == "estimate"
    assert timings["arrival"]["state"] == "met"  # still the first surveyor's arrival
    assert timings["report_to_arrival"]["state"] == "met"


async def test_a_scene_redispatch_restarts_them_but_not_the_customers_wait(client, tokens, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    clock.advance(minutes=50)
    timings, _ = await _dispatch(client, tokens, case["id"], "sv2")  # purpose scene
    assert timings["arrival"]["state"] == "running" and timings["arrival"]["seconds"] == 0
    customer = timings["report_to_arrival"]
    assert customer["state"] == "overdue"  # 50 min since the report, whoever comes
    assert customer["start"].startswith("2026-01-05T07:55:00")


async def test_an_unknown_purpose_is_refused_by_name(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    response = await client.post(
        f"/v1/cases/{case['id']}/dispatch",
        json={"surveyor": "sv2", "purpose": "picnic"},
        headers=tokens["disp"],
    )
    assert response.status_code == 400 and "purpose" in response.text
