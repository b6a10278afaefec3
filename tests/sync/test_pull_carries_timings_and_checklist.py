"""A pull tells the tablet what the surveyor must act on while offline: each running timing
with the time it falls due, and the required on-site documents not photographed yet."""

from __future__ import annotations

from datetime import datetime, timedelta

from cases.rates import REQUIRED_ON_SITE
from tests.factories import dispatched_case, new_id, packet, push, push_body


async def _pulled(client, headers, case_id):
    response = await client.get("/v1/sync/pull", headers=headers)
    assert response.status_code == 200, response.text
    return next(c for c in response.json()["cases"] if c["id"] == case_id)


async def test_running_timings_come_with_due_times(client, tokens, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    dispatched_at = datetime.fromisoformat(case["dispatches"][-1]["dispatched_at"])
    clock.advance(minutes=2)
    pulled = await _pulled(client, tokens["sv1"], case["id"])
    running = {t["name"]: t for t in pulled["running"]}
    assert {"accept", "contact", "arrival"} <= set(running)
    accept = running["accept"]
    assert datetime.fromisoformat(accept["due_at"]) == dispatched_at + timedelta(minutes=3)
    assert accept["seconds_left"] == 60
    assert accept["state"] == "running"
    assert running["arrival"]["limit_key"] == "arrival.city"

    sent = await push(
        client, tokens["sv1"], push_body(new_id(), [packet(case["id"], 1, "accepted")])
    )
    assert sent.status_code == 200, sent.text
    clock.advance(minutes=10)
    pulled = await _pulled(client, tokens["sv1"], case["id"])
    running = {t["name"]: t for t in pulled["running"]}
    assert "accept" not in running  # ended: no longer the tablet's worry
    assert running["contact"]["state"] == "overdue"
    assert running["contact"]["seconds_left"] < 0


async def test_missing_documents_shrink_as_they_are_photographed(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1", simple_procedure=True)
    pulled = await _pulled(client, tokens["sv1"], case["id"])
    assert pulled["missing_documents"] == sorted(REQUIRED_ON_SITE)

    device = new_id()
    documents = [
        packet(case["id"], 1, "document", data={"category": "driving_licence"}),
        packet(case["id"], 2, "photo", data={"category": "vin"}),
    ]
    sent = await push(client, tokens["sv1"], push_body(device, documents))
    assert sent.status_code == 200, sent.text
    pulled = await _pulled(client, tokens["sv1"], case["id"])
    assert pulled["missing_documents"] == sorted(REQUIRED_ON_SITE - {"driving_licence", "vin"})


async def test_a_case_outside_simple_procedure_has_no_on_site_checklist(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1", simple_procedure=False)
    pulled = await _pulled(client, tokens["sv1"], case["id"])
    assert pulled["missing_documents"] == []
