"""Out-of-town cases (外地委托): the timing is the branch's own duty, arranging the delegated
survey within the hour of the dispatch; the delegate sends nothing, so the dispatcher's
`delegate` ends it, and no arrival is waited for."""

from __future__ import annotations

from sqlalchemy import select

from cases.models import CaseAction
from tests.factories import dispatched_case


async def _delegate(client, tokens, case_id, **body):
    return await client.post(f"/v1/cases/{case_id}/delegate", json=body, headers=tokens["disp"])


def _timings(body):
    return {t["name"]: t for t in body["timings"]}


async def test_delegation_within_the_hour_is_met(client, tokens, clock, db):
    case = await dispatched_case(client, tokens, surveyor="sv1", zone="out_of_town")
    timings = _timings(case)
    assert "arrival" not in timings  # the delegate never sends `arrived`
    assert timings["delegation"]["state"] == "running"
    assert timings["delegation"]["limit_seconds"] == 3600
    clock.advance(minutes=40)
    response = await _delegate(client, tokens, case["id"], to="平安 苏州分公司", reference="SZ-1")
    assert response.status_code == 200, response.text
    delegation = _timings(response.json())["delegation"]
    assert (delegation["state"], delegation["seconds"]) == ("met", 40 * 60)
    clock.advance(hours=5)  # stays met: nothing is waited for any more
    board = (await client.get("/v1/board", headers=tokens["disp"])).json()["cases"]
    row = next(c for c in board if c["case_id"] == case["id"])
    assert all(t["name"] != "delegation" for t in row["timings"])
    async with db.session(write=False) as session:
        action = await session.scalar(select(CaseAction))
    assert (action.kind, action.target, action.reference) == (
        "delegated",
        "平安 苏州分公司",
        "SZ-1",
    )

    again = await _delegate(client, tokens, case["id"], to="someone else")
    assert again.status_code == 409


async def test_a_late_delegation_is_missed(client, tokens, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1", zone="out_of_town")
    clock.advance(minutes=61)
    read = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
    assert _timings(read)["delegation"]["state"] == "overdue"
    response = await _delegate(client, tokens, case["id"], to="人保 杭州")
    assert _timings(response.json())["delegation"]["state"] == "missed"


async def test_only_out_of_town_cases_are_delegated(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1", zone="city")
    response = await _delegate(client, tokens, case["id"], to="x")
    assert response.status_code == 409
    assert "city" in response.text
    empty = await _delegate(client, tokens, case["id"], to="")
    assert empty.status_code == 400
    read = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
    assert "delegation" not in _timings(read) and "arrival" in _timings(read)
