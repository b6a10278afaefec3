"""Factories for rows and request bodies, so tests say only what matters to them."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from litestar.testing import AsyncTestClient

from server.db import Database
from sync.users import create_user

_case_numbers = itertools.count(1)


class Tokens(dict[str, dict[str, str]]):
    """User name -> Authorization header. Names: admin, disp, rev, sv1, sv2."""


USERS = {
    "admin": "admin",
    "disp": "dispatcher",
    "rev": "reviewer",
    "sv1": "surveyor",
    "sv2": "surveyor",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_user(database: Database, name: str, role: str, now: datetime) -> str:
    async with database.session() as session:
        token = await create_user(session, name, role, now)
        await session.commit()
    return token


async def make_tokens(database: Database, now: datetime) -> Tokens:
    tokens = Tokens()
    for name, role in USERS.items():
        tokens[name] = bearer(await make_user(database, name, role, now))
    return tokens


def case_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_no": f"RPT-{next(_case_numbers):06d}",
        "reported_at": "2026-01-05T15:55:00+08:00",
        "location": {"lat": 31.2304, "lon": 121.4737},
        "address": "人民广场, 黄浦区, 上海",
        "zone": "city",
        "plate": "沪A12345",
        "simple_procedure": True,
    }
    body.update(overrides)
    return body


async def open_case(
    client: AsyncTestClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/v1/cases", json=case_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def dispatched_case(
    client: AsyncTestClient, tokens: Tokens, surveyor: str = "sv1", **overrides: Any
) -> dict[str, Any]:
    case = await open_case(client, tokens["disp"], **overrides)
    response = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
    )
    assert response.status_code == 200, response.text
    return response.json()
