"""Bearer tokens and roles: 401 without a valid token, 403 for the wrong role or case."""

from __future__ import annotations

import pytest

from cases.users import revoke_user
from tests.factories import case_body, dispatched_case


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer kt_not-a-real-token"},
    ],
    ids=["none", "empty", "basic", "unknown"],
)
async def test_missing_or_bad_token_is_401(client, tokens, headers):
    response = await client.post("/v1/cases", json=case_body(), headers=headers)
    assert response.status_code == 401
    assert "bearer" in response.headers["www-authenticate"].lower()


async def test_revoked_token_is_401(client, tokens, db, clock):
    url = "/v1/cases/00000000-0000-4000-8000-000000000000"  # no such case
    assert (await client.get(url, headers=tokens["disp"])).status_code == 404
    async with db.session() as session:
        await revoke_user(session, "disp", clock.now())
        await session.commit()
    assert (await client.get(url, headers=tokens["disp"])).status_code == 401


async def test_only_dispatchers_admins_and_surveyors_open_cases(client, tokens):
    # A surveyor's case is self-reported (tests/cases/test_self_reported.py).
    response = await client.post("/v1/cases", json=case_body(), headers=tokens["rev"])
    assert response.status_code == 403
    assert "dispatcher" in response.json()["detail"]
    opened = await client.post("/v1/cases", json=case_body(), headers=tokens["sv1"])
    assert opened.status_code == 201


async def test_admin_may_open_and_dispatch(client, tokens):
    body = case_body()
    created = await client.post("/v1/cases", json=body, headers=tokens["admin"])
    assert created.status_code == 201
    dispatched = await client.post(
        f"/v1/cases/{created.json()['id']}/dispatch",
        json={"surveyor": "sv1"},
        headers=tokens["admin"],
    )
    assert dispatched.status_code == 200


async def test_surveyor_cannot_dispatch(client, tokens):
    case = await dispatched_case(client, tokens)
    response = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv1"}, headers=tokens["sv1"]
    )
    assert response.status_code == 403


async def test_surveyor_sees_only_own_case(client, tokens):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    url = f"/v1/cases/{case['id']}"
    assert (await client.get(url, headers=tokens["sv1"])).status_code == 200
    assert (await client.get(url, headers=tokens["sv2"])).status_code == 403
    assert (await client.get(url, headers=tokens["rev"])).status_code == 200
    assert (await client.get(url, headers=tokens["disp"])).status_code == 200
