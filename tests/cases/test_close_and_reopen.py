"""Closing a case (结案): once approved, or earlier with a reason; a closed case leaves the
board and the tablet's first pull, is told once to a tablet pulling from a cursor, stays
readable and can be reopened."""

from __future__ import annotations

from sqlalchemy import select

from cases.models import CaseAction
from tests.factories import dispatched_case
from tests.tablets import review, surveyed


async def _close(client, tokens, case_id, who="disp", **body):
    return await client.post(f"/v1/cases/{case_id}/close", json=body, headers=tokens[who])


async def _board_ids(client, tokens):
    response = await client.get("/v1/board", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    return {c["case_id"] for c in response.json()["cases"]}


async def _pull(client, tokens, cursor=None):
    params = {"cursor": cursor} if cursor else {}
    response = await client.get("/v1/sync/pull", params=params, headers=tokens["sv1"])
    assert response.status_code == 200, response.text
    body = response.json()
    return body["cursor"], {c["id"]: c for c in body["cases"]}


async def test_an_approved_case_closes_and_leaves_the_tablet(client, tokens, clock, db):
    case, _ = await surveyed(client, tokens, clock)
    assert (await review(client, tokens, case["id"], decision="approved")).status_code == 200
    cursor, cases = await _pull(client, tokens)
    assert case["id"] in cases

    closed = await _close(client, tokens, case["id"])
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"

    cursor, cases = await _pull(client, tokens, cursor)
    assert cases[case["id"]]["status"] == "closed"  # told once
    _, cases = await _pull(client, tokens, cursor)
    assert case["id"] not in cases  # and not again
    _, fresh = await _pull(client, tokens)
    assert case["id"] not in fresh  # nor to a tablet starting afresh
    read = await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])
    assert read.status_code == 200 and read.json()["status"] == "closed"
    async with db.session(write=False) as session:
        actions = list(await session.scalars(select(CaseAction)))
    assert [(a.kind, a.case_id) for a in actions] == [("closed", case["id"])]


async def test_an_open_case_closes_only_with_a_reason(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    refused = await _close(client, tokens, case["id"])
    assert refused.status_code == 400
    assert "reason" in refused.text
    assert case["id"] in await _board_ids(client, tokens)  # nothing changed

    closed = await _close(client, tokens, case["id"], reason="withdrawn by the customer")
    assert closed.status_code == 200, closed.text
    assert case["id"] not in await _board_ids(client, tokens)
    again = await _close(client, tokens, case["id"], reason="twice")
    assert again.status_code == 409
    dispatch = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv2"}, headers=tokens["disp"]
    )
    assert dispatch.status_code == 409


async def test_reopen_brings_the_case_back(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    not_closed = await client.post(
        f"/v1/cases/{case['id']}/reopen", json={}, headers=tokens["disp"]
    )
    assert not_closed.status_code == 409
    await _close(client, tokens, case["id"], reason="duplicate report")
    reopened = await client.post(
        f"/v1/cases/{case['id']}/reopen", json={"reason": "not a duplicate"}, headers=tokens["disp"]
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "dispatched"
    assert case["id"] in await _board_ids(client, tokens)
    _, cases = await _pull(client, tokens)
    assert case["id"] in cases


async def test_only_the_desk_that_dispatches_may_close(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    for who in ("sv1", "rev"):
        response = await _close(client, tokens, case["id"], who=who, reason="x")
        assert response.status_code == 403, who
    admin = await _close(client, tokens, case["id"], who="admin", reason="claim rejected")
    assert admin.status_code == 200
