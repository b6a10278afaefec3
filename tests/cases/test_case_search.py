"""Finding cases (`GET /v1/cases`): by case number, plate, surveyor, state and report period,
paged with the total count; a surveyor finds only their own; bad parameters are a 400 naming
the parameter."""

from __future__ import annotations

import pytest

from tests.factories import at, dispatched_case, open_case
from tests.tablets import Tablet


async def _search(client, tokens, who="disp", **params):
    response = await client.get("/v1/cases", params=params, headers=tokens[who])
    assert response.status_code == 200, response.text
    return response.json()


def _numbers(body):
    return [item["case_no"] for item in body["items"]]


async def test_search_by_part_of_the_case_number_and_plate(client, tokens):
    await open_case(client, tokens["disp"], case_no="SH-2026-0001", plate="沪A12345")
    await open_case(client, tokens["disp"], case_no="SH-2026-0002", plate="沪B99999")
    await open_case(client, tokens["disp"], case_no="BJ-2026-0003", plate="京A12399")

    assert sorted(_numbers(await _search(client, tokens, case_no="sh-2026"))) == [
        "SH-2026-0001",
        "SH-2026-0002",
    ]
    found = _numbers(await _search(client, tokens, plate="a123"))
    assert sorted(found) == ["BJ-2026-0003", "SH-2026-0001"]
    both = await _search(client, tokens, case_no="2026", plate="沪A")
    assert _numbers(both) == ["SH-2026-0001"] and both["total"] == 1
    # A LIKE wildcard typed in the box is a character, not a pattern.
    assert (await _search(client, tokens, case_no="SH%0"))["total"] == 0
    assert (await _search(client, tokens, case_no="_H-2026"))["total"] == 0


async def test_search_by_surveyor_state_and_report_period(client, tokens):
    early = await dispatched_case(
        client, tokens, surveyor="sv1", reported_at="2026-01-04T23:30:00+08:00"
    )
    late = await dispatched_case(
        client, tokens, surveyor="sv2", reported_at="2026-01-05T09:00:00+08:00"
    )
    waiting = await open_case(client, tokens["disp"], reported_at="2026-01-05T10:00:00+08:00")

    assert _numbers(await _search(client, tokens, surveyor="sv1")) == [early["case_no"]]
    assert _numbers(await _search(client, tokens, state="reported")) == [waiting["case_no"]]
    assert (await _search(client, tokens, state="dispatched"))["total"] == 2
    # A date is a day in the branch's zone (+08:00), `to` included.
    day = await _search(client, tokens, **{"from": "2026-01-05", "to": "2026-01-05"})
    assert _numbers(day) == [waiting["case_no"], late["case_no"]]  # latest report first
    before = await _search(client, tokens, to="2026-01-05T09:00:00+08:00")
    assert _numbers(before) == [early["case_no"]]  # [from, to): 09:00 itself is out
    item = (await _search(client, tokens, surveyor="sv2"))["items"][0]
    assert item["id"] == late["id"] and item["surveyor"] == "sv2"
    assert item["status"] == "dispatched" and item["plate"] == "沪A12345"

    closed = await client.post(
        f"/v1/cases/{early['id']}/close", json={"reason": "withdrawn"}, headers=tokens["disp"]
    )
    assert closed.status_code == 200, closed.text
    assert early["case_no"] not in _numbers(await _search(client, tokens, state="open"))
    assert _numbers(await _search(client, tokens, state="closed")) == [early["case_no"]]


async def test_pages_with_the_total(client, tokens):
    numbers = [
        (await open_case(client, tokens["disp"], reported_at=f"2026-01-05T0{h}:00:00+08:00"))[
            "case_no"
        ]
        for h in range(1, 6)
    ]
    first = await _search(client, tokens, limit=2)
    second = await _search(client, tokens, limit=2, offset=2)
    last = await _search(client, tokens, limit=2, offset=4)
    assert first["total"] == second["total"] == last["total"] == 5
    assert _numbers(first) + _numbers(second) + _numbers(last) == numbers[::-1]
    assert (await _search(client, tokens, limit=2, offset=10))["items"] == []


async def test_a_surveyor_finds_only_their_own_cases(client, tokens):
    mine = await dispatched_case(client, tokens, surveyor="sv1")
    await dispatched_case(client, tokens, surveyor="sv2")
    await open_case(client, tokens["disp"])
    found = await _search(client, tokens, who="sv1")
    assert _numbers(found) == [mine["case_no"]] and found["total"] == 1
    assert (await _search(client, tokens, who="sv1", surveyor="sv2"))["total"] == 0
    for who in ("rev", "admin"):
        assert (await _search(client, tokens, who=who))["total"] == 3


async def test_no_token_is_401(client):
    assert (await client.get("/v1/cases")).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "lost"}, "state"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-01-05T10:00:00"}, "from"),  # no offset
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-01-06", "to": "2026-01-05"}, "to"),
        ({"to": "1900-01-01"}, "to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"case_no": "x" * 300}, "case_no"),
        ({"plate": "沪\x00"}, "plate"),
    ],
)
async def test_bad_parameters_are_400_naming_them(client, tokens, params, field):
    response = await client.get("/v1/cases", params=params, headers=tokens["disp"])
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]


async def test_search_by_a_stage_the_tablet_reached(client, tokens, clock):
    clock.set(at(0))
    arrived = await dispatched_case(client, tokens, surveyor="sv1")
    await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"])
    tablet.record(arrived["id"], "arrived", at(20), gps=True)
    clock.set(at(21))
    await tablet.flush(client, clock)
    found = await _search(client, tokens, state="arrived")
    assert _numbers(found) == [arrived["case_no"]] and found["items"][0]["status"] == "arrived"
    assert (await _search(client, tokens, state="dispatched"))["total"] == 1
    assert (await _search(client, tokens, state="open"))["total"] == 2
