"""A NUL character in a packet's `data` is refused (400 naming `data`, nothing stored) in
JSON and MessagePack alike: PostgreSQL text cannot hold one. The check is spared for bytes
that cannot spell a NUL, so both spellings of one, and a text that merely looks like the
escape, are tried here."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cases.models import Packet
from tests.factories import dispatched_case, new_id, packet, push, push_body

NOTES = {
    "in a value": {"note": "front\x00bumper"},
    "in a key": {"no\x00te": "front bumper"},
    "in a list": {"parts": ["bumper", "\x00"]},
}


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
@pytest.mark.parametrize("where", list(NOTES))
async def test_nul_in_data_is_400_and_nothing_is_stored(client, tokens, db, where, msgpack):
    case = await dispatched_case(client, tokens)
    body = push_body(new_id(), [packet(case["id"], 1), packet(case["id"], 2, data=NOTES[where])])
    response = await push(client, tokens["sv1"], body, msgpack=msgpack)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == ("packets[1].data: text may not hold a NUL character"), (
        response.text
    )
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Packet)) == 0


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
async def test_text_that_only_spells_the_escape_is_taken(client, tokens, db, msgpack):
    case = await dispatched_case(client, tokens)
    note = {"note": "see \\u0000 in the manual", "count": 0}  # a backslash, not a NUL
    body = push_body(new_id(), [packet(case["id"], 1, data=note)])
    response = await push(client, tokens["sv1"], body, msgpack=msgpack)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["accepted"]
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Packet)) == 1
