"""A surveyor opens a case from the tablet when no dispatch exists (an irregular report): it
is self-reported and awaits confirmation; their packets are held. A dispatcher confirms it
by dispatching it to them: the timings start there and the held packets join, flagged
before_dispatch_irregular. Dispatching it to someone else, or closing it, turns it down."""

from __future__ import annotations

from tests.factories import case_body, new_id, open_case, packet, push, push_body


async def _self_open(client, tokens, who="sv1", **overrides):
    response = await client.post("/v1/cases", json=case_body(**overrides), headers=tokens[who])
    assert response.status_code == 201, response.text
    return response.json()


async def _dispatch(client, tokens, case_id, surveyor="sv1"):
    response = await client.post(
        f"/v1/cases/{case_id}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _pull(client, tokens, who="sv1", cursor=None):
    params = {"cursor": cursor} if cursor else {}
    response = await client.get("/v1/sync/pull", params=params, headers=tokens[who])
    assert response.status_code == 200, response.text
    body = response.json()
    return body["cursor"], {c["id"]: c for c in body["cases"]}


async def _board(client, tokens):
    response = await client.get("/v1/board", headers=tokens["disp"])
    assert response.status_code == 200, response.text
    return {c["case_id"]: c for c in response.json()["cases"]}


async def test_a_surveyor_opens_a_case_that_awaits_confirmation(client, tokens):
    case = await _self_open(client, tokens)
    assert case["self_reported"] is True and case["awaiting_confirmation"] is True
    assert case["reported_by"] == "sv1"
    assert case["surveyor"] is None and case["dispatches"] == []
    assert case["status"] == "reported"

    row = (await _board(client, tokens))[case["id"]]
    assert row["self_reported"] is True and row["awaiting_confirmation"] is True
    assert row["reported_by"] == "sv1" and row["timings"] == []

    _, pulled = await _pull(client, tokens)
    assert pulled[case["id"]]["assigned_to_you"] is True  # the tablet keeps it
    assert pulled[case["id"]]["awaiting_confirmation"] is True
    _, others = await _pull(client, tokens, "sv2")
    assert case["id"] not in others

    mine = await client.get(f"/v1/cases/{case['id']}", headers=tokens["sv1"])
    assert mine.status_code == 200 and mine.json()["awaiting_confirmation"] is True
    theirs = await client.get(f"/v1/cases/{case['id']}", headers=tokens["sv2"])
    assert theirs.status_code == 403


async def test_a_desk_opened_case_is_not_self_reported(client, tokens):
    case = await open_case(client, tokens["disp"])
    assert case["self_reported"] is False and case["awaiting_confirmation"] is False
    assert case["reported_by"] is None
    assert (await _board(client, tokens))[case["id"]]["awaiting_confirmation"] is False


async def test_the_same_case_no_again(client, tokens):
    body = case_body()
    first = await client.post("/v1/cases", json=body, headers=tokens["sv1"])
    assert first.status_code == 201
    again = await client.post("/v1/cases", json=body, headers=tokens["sv1"])
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = await client.post("/v1/cases", json=body, headers=tokens["sv2"])
    assert other.status_code == 409 and "case_no" in other.json()["detail"]
    desk = await client.post("/v1/cases", json=body, headers=tokens["disp"])
    assert desk.status_code == 200 and desk.json()["id"] == first.json()["id"]
    assert desk.json()["self_reported"] is True  # the desk's report finds the surveyor's


async def test_a_surveyor_cannot_claim_a_case_the_desk_opened(client, tokens):
    body = case_body()
    assert (await client.post("/v1/cases", json=body, headers=tokens["disp"])).status_code == 201
    claimed = await client.post("/v1/cases", json=body, headers=tokens["sv1"])
    assert claimed.status_code == 409
    assert "id" not in claimed.json()  # nothing of the case is told


async def test_the_dispatch_to_the_surveyor_confirms_it_and_the_held_packets_join(
    client, tokens, clock
):
    case = await _self_open(client, tokens)
    device = new_id()
    early = [
        packet(case["id"], 1, "arrived", occurred_at="2026-01-05T16:01:00+08:00"),
        packet(case["id"], 2, "photo", occurred_at="2026-01-05T16:03:00+08:00"),
    ]
    out = (await push(client, tokens["sv1"], push_body(device, early))).json()
    assert [r["status"] for r in out["results"]] == ["held", "held"]
    assert out["acked_through"] == 2
    unconfirmed = await client.get(f"/v1/cases/{case['id']}", headers=tokens["sv1"])
    assert unconfirmed.json()["events"] == [] and unconfirmed.json()["timings"] == []

    clock.advance(minutes=20)
    confirmed = await _dispatch(client, tokens, case["id"], "sv1")
    assert confirmed["awaiting_confirmation"] is False and confirmed["self_reported"] is True
    assert confirmed["surveyor"] == "sv1"
    events = {e["kind"]: e for e in confirmed["events"]}
    assert set(events) == {"arrived", "photo"}
    for event in events.values():
        assert "before_dispatch_irregular" in event["flags"]
        assert "before_dispatch" not in event["flags"]
    timings = {t["name"]: t for t in confirmed["timings"]}
    dispatched_at = confirmed["dispatches"][0]["dispatched_at"]
    assert timings["arrival"]["start"] == dispatched_at  # the timings start at the dispatch
    assert timings["arrival"]["state"] == "met"
    assert (await _board(client, tokens))[case["id"]]["awaiting_confirmation"] is False
    _, pulled = await _pull(client, tokens)
    assert pulled[case["id"]]["assigned_to_you"] is True
    assert pulled[case["id"]]["awaiting_confirmation"] is False


async def test_dispatching_it_to_someone_else_turns_the_self_report_down(client, tokens):
    case = await _self_open(client, tokens)
    await push(client, tokens["sv1"], push_body(new_id(), [packet(case["id"], 1, "arrived")]))
    cursor, _ = await _pull(client, tokens)
    given = await _dispatch(client, tokens, case["id"], "sv2")
    assert given["events"] == []  # sv1's held packets stay out
    assert given["awaiting_confirmation"] is False
    _, pulled = await _pull(client, tokens, cursor=cursor)
    assert pulled[case["id"]]["assigned_to_you"] is False  # the tablet drops it
    _, fresh = await _pull(client, tokens)
    assert case["id"] not in fresh
    assert (await client.get(f"/v1/cases/{case['id']}", headers=tokens["sv1"])).status_code == 403
    again = await client.post(
        "/v1/cases", json=case_body(case_no=case["case_no"]), headers=tokens["sv1"]
    )
    assert again.status_code == 409  # no longer theirs: nothing of it is told


async def test_closing_it_with_a_reason_turns_it_down(client, tokens):
    case = await _self_open(client, tokens)
    closed = await client.post(
        f"/v1/cases/{case['id']}/close", json={"reason": "no such report"}, headers=tokens["disp"]
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["awaiting_confirmation"] is False
    assert case["id"] not in await _board(client, tokens)
    _, pulled = await _pull(client, tokens)
    assert case["id"] not in pulled


async def test_a_pull_from_a_cursor_sees_a_case_opened_after_it(client, tokens):
    cursor, _ = await _pull(client, tokens)
    case = await _self_open(client, tokens)
    _, pulled = await _pull(client, tokens, cursor=cursor)
    assert pulled[case["id"]]["assigned_to_you"] is True


async def test_other_roles_cannot_open_a_case(client, tokens):
    refused = await client.post("/v1/cases", json=case_body(), headers=tokens["rev"])
    assert refused.status_code == 403
