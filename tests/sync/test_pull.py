"""Pulling cases: mine, taken away from me, changed since my cursor, never a change missed."""

from __future__ import annotations

from datetime import UTC, datetime

from cases.changes import cases_changed
from tests.factories import dispatched_case, new_id, open_case, packet, push, push_body


async def pull(client, headers, cursor=None):
    params = {"cursor": cursor} if cursor else {}
    response = await client.get("/v1/sync/pull", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["cursor"], {c["id"]: c for c in body["cases"]}


async def test_first_pull_gives_my_open_cases_only(client, tokens):
    mine = await dispatched_case(client, tokens, surveyor="sv1")
    await dispatched_case(client, tokens, surveyor="sv2")
    await open_case(client, tokens["disp"])
    cursor, cases = await pull(client, tokens["sv1"])
    assert list(cases) == [mine["id"]]
    assert cases[mine["id"]]["assigned_to_you"] is True
    assert cases[mine["id"]]["case_no"] == mine["case_no"]
    assert cursor


async def test_pull_from_a_cursor_gives_only_what_changed(client, tokens):
    first = await dispatched_case(client, tokens, surveyor="sv1")
    second = await dispatched_case(client, tokens, surveyor="sv1")
    cursor, _ = await pull(client, tokens["sv1"])
    cursor, cases = await pull(client, tokens["sv1"], cursor)
    assert cases == {}
    await push(client, tokens["sv1"], push_body(new_id(), [packet(second["id"], 1)]))
    cursor, cases = await pull(client, tokens["sv1"], cursor)
    assert list(cases) == [second["id"]]
    third = await dispatched_case(client, tokens, surveyor="sv1")
    cursor, cases = await pull(client, tokens["sv1"], cursor)
    assert list(cases) == [third["id"]]
    assert first["id"] not in cases


async def test_a_case_taken_away_shows_once_as_no_longer_mine(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    cursor1, _ = await pull(client, tokens["sv1"])
    cursor2, _ = await pull(client, tokens["sv2"])
    await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv2"}, headers=tokens["disp"]
    )
    _, cases = await pull(client, tokens["sv1"], cursor1)
    assert cases[case["id"]]["assigned_to_you"] is False
    assert cases[case["id"]]["surveyor"] == "sv2"
    _, cases = await pull(client, tokens["sv2"], cursor2)
    assert cases[case["id"]]["assigned_to_you"] is True
    _, fresh = await pull(client, tokens["sv1"])
    assert case["id"] not in fresh


async def test_forged_or_borrowed_cursor_is_400(client, tokens):
    await dispatched_case(client, tokens, surveyor="sv1")
    cursor, _ = await pull(client, tokens["sv1"])
    for bad in ["42", "MTowOjk5OQ", cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), "\x00"]:
        response = await client.get("/v1/sync/pull", params={"cursor": bad}, headers=tokens["sv1"])
        assert response.status_code == 400, bad
        assert response.json()["detail"].startswith("cursor:")
    borrowed = await client.get("/v1/sync/pull", params={"cursor": cursor}, headers=tokens["sv2"])
    assert borrowed.status_code == 400


async def test_a_change_committed_while_a_pull_ran_is_not_missed(client, tokens, db):
    """A writer has taken its feed position but not committed when the pull reads: the
    cursor that pull returns must still lead to that change once it commits."""
    case = await dispatched_case(client, tokens, surveyor="sv1")
    cursor, _ = await pull(client, tokens["sv1"])
    async with db.session() as writer:
        await cases_changed(writer, [case["id"]], datetime(2026, 1, 5, 9, tzinfo=UTC))
        during, cases = await pull(client, tokens["sv1"], cursor)  # runs while uncommitted
        assert case["id"] not in cases
        await writer.commit()
    _, cases = await pull(client, tokens["sv1"], during)
    assert list(cases) == [case["id"]]


async def test_only_surveyors_pull(client, tokens):
    response = await client.get("/v1/sync/pull", headers=tokens["disp"])
    assert response.status_code == 403
    assert (await client.get("/v1/sync/pull")).status_code == 401
