"""Batches over the configured limits are refused whole (413), and nothing of them is kept."""

from __future__ import annotations

import msgspec
import pytest

from cases.models import Packet
from tests.factories import count, dispatched_case, new_id, packet, push, push_body


@pytest.fixture
def settings(settings):
    """Small batch limits, so the 413 tests stay small."""
    return msgspec.structs.replace(settings, max_batch_packets=5, max_batch_bytes=4096)


async def test_too_many_packets_is_413_and_nothing_is_stored(client, tokens, db):
    case = await dispatched_case(client, tokens)
    body = push_body(new_id(), [packet(case["id"], s) for s in range(1, 7)])
    response = await push(client, tokens["sv1"], body)
    assert response.status_code == 413
    assert "packets" in response.json()["detail"]
    assert await count(db, Packet) == 0


async def test_too_many_bytes_is_413_and_nothing_is_stored(client, tokens, db):
    case = await dispatched_case(client, tokens)
    big = packet(case["id"], 1, data={"text": "x" * 5000})
    response = await push(client, tokens["sv1"], push_body(new_id(), [big]))
    assert response.status_code == 413
    assert await count(db, Packet) == 0
