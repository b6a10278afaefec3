"""Factories for rows and request bodies, so tests say only what matters to them."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from cases.users import create_user
from server.db import Database

_case_numbers = itertools.count(1)

# The morning every replayed day starts on (the FakeClock's default start).
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A time `minutes` after T0: tests read as a day's timeline in minutes."""
    return T0 + timedelta(minutes=minutes)


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


# -- packets -------------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def packet(case_id: str, seq: int, kind: str = "note", **overrides: Any) -> dict[str, Any]:
    """A packet as a tablet sends it; photos and documents get a category by default."""
    body: dict[str, Any] = {
        "packet_id": new_id(),
        "seq": seq,
        "case_id": case_id,
        "kind": kind,
        "occurred_at": "2026-01-05T16:05:00+08:00",
        "data": {},
    }
    if kind in ("photo", "document"):
        body["data"] = {"category": "scene"}
    if kind == "estimate_submitted":
        body["data"] = {"amount": 1500, "items": [{"name": "bumper", "yuan": 1500}]}
    if kind == "arrived":
        body["gps"] = {"lat": 31.2305, "lon": 121.4738, "accuracy_m": 8}
    body.update(overrides)
    return body


def push_body(
    device_id: str, packets: list[dict[str, Any]], sent_at: str = "2026-01-05T16:00:00+08:00"
) -> dict[str, Any]:
    return {"device_id": device_id, "sent_at": sent_at, "packets": packets}


async def push(
    client: AsyncTestClient,
    headers: dict[str, str],
    body: dict[str, Any],
    *,
    msgpack: bool = False,
):
    if msgpack:
        headers = {**headers, "Content-Type": "application/msgpack"}
        return await client.post(
            "/v1/sync/push", content=msgspec.msgpack.encode(body), headers=headers
        )
    return await client.post("/v1/sync/push", json=body, headers=headers)


async def count(db, model, *where) -> int:
    async with db.session(write=False) as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return await session.scalar(query)
