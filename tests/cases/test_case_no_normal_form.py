"""case_no is compared trimmed and in Unicode NFC; one that is empty once trimmed is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cases.models import Case
from tests.factories import case_body

PRECOMPOSED = "NF-\u00e9"  # é as one character
DECOMPOSED = "NF-e\u0301"  # e + combining acute accent


@pytest.mark.parametrize("case_no", ["", "   ", "\t\n"])
async def test_empty_case_no_is_400(client, tokens, db, case_no):
    response = await client.post(
        "/v1/cases", json=case_body(case_no=case_no), headers=tokens["disp"]
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("case_no: ")
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 0


async def test_case_no_typed_two_ways_is_one_case(client, tokens, db):
    first = await client.post(
        "/v1/cases", json=case_body(case_no=PRECOMPOSED), headers=tokens["disp"]
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        "/v1/cases", json=case_body(case_no=f" {DECOMPOSED} "), headers=tokens["disp"]
    )
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["case_no"] == PRECOMPOSED
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 1
