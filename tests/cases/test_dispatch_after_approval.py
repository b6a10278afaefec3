"""A case whose estimate is approved cannot be dispatched again: 409, and nothing of it
(status, timings, dispatches) changes."""

from __future__ import annotations

from tests.tablets import review, surveyed


async def test_dispatching_an_approved_case_is_409_and_changes_nothing(client, tokens, clock):
    case, _ = await surveyed(client, tokens, clock)
    approved = await review(client, tokens, case["id"], decision="approved")
    assert approved.status_code == 200, approved.text
    before = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
    for surveyor in ("sv2", "sv1"):
        response = await client.post(
            f"/v1/cases/{case['id']}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
        )
        assert response.status_code == 409, response.text
        assert response.json()["detail"] == "case: its estimate is approved: the survey is done"
    after = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
    assert after == before
    assert after["status"] == "approved"
