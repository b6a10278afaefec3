"""Playing a tablet and a desk through the real endpoints: a tablet that records events at
true times on a skewed clock and flushes them when the test says there is signal, a
surveyed case, a review, a case dispatched on a live server."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from cases.clock import FakeClock
from tests.factories import T0, at, dispatched_case, new_id, push, push_body

SCENE = {"lat": 31.2304, "lon": 121.4737}


def iso(when: datetime) -> str:
    return when.isoformat()


class Tablet:
    """`skew` is the tablet clock minus the true time (a tablet 90 s slow: -90 s)."""

    def __init__(self, headers: dict[str, str], skew: timedelta = timedelta()) -> None:
        self.headers = headers
        self.skew = skew
        self.device_id = new_id()
        self.queue: list[dict[str, Any]] = []
        self._seq = itertools.count(1)

    def record(
        self, case_id: str, kind: str, true_time: datetime, *, gps: Any = None, **data: Any
    ) -> dict[str, Any]:
        """`gps`: True for a fix at the scene stamped with the true time, or a dict."""
        packet: dict[str, Any] = {
            "packet_id": new_id(),
            "seq": next(self._seq),
            "case_id": case_id,
            "kind": kind,
            "occurred_at": iso(true_time + self.skew),
            "data": data,
        }
        if kind in ("photo", "document") and "category" not in data:
            packet["data"] = {"category": "scene", **data}
        if kind == "estimate_submitted" and "amount" not in data:
            packet["data"] = {"amount": 1500, "items": [], **data}
        if gps is True:
            gps = {**SCENE, "accuracy_m": 8, "fix_time": iso(true_time)}
        if gps is not None:
            packet["gps"] = gps
        self.queue.append(packet)
        return packet

    async def flush(
        self,
        client: AsyncTestClient,
        clock: FakeClock,
        packets: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Push `packets` (default: the whole queue) at the clock's now; keep what is not
        acked in the queue."""
        batch = self.queue if packets is None else packets
        body = push_body(self.device_id, batch, sent_at=iso(clock.now() + self.skew))
        response = await push(client, self.headers, body)
        assert response.status_code == 200, response.text
        out = response.json()
        assert all(r["status"] in ("accepted", "duplicate") for r in out["results"]), out
        self.queue = [p for p in self.queue if p["seq"] > out["acked_through"]]
        return out


async def case_read(client: AsyncTestClient, case_id: str, headers: dict[str, str]) -> dict:
    response = await client.get(f"/v1/cases/{case_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# Timings of the case rather than of a dispatch (tested on their own, in
# tests/cases/test_dispatch_purposes.py and test_out_of_town_delegation.py).
CASE_LEVEL = ("report_to_arrival", "delegation")


async def timings(
    client: AsyncTestClient, case_id: str, headers: dict[str, str], *, case_level: bool = False
) -> dict:
    """name -> (seconds, state, source, flags): everything a timing is judged by; the
    dispatch's timings only, unless `case_level`."""
    case = await case_read(client, case_id, headers)
    return {
        t["name"]: (t["seconds"], t["state"], t["source"], t["flags"])
        for t in case["timings"]
        if case_level or t["name"] not in CASE_LEVEL
    }


def dispatched_live(url: str, tokens, surveyor: str = "sv1") -> str:
    body = {
        "case_no": f"RACE-{new_id()[:8]}",
        "reported_at": "2026-01-05T15:55:00+08:00",
        "location": {"lat": 31.23, "lon": 121.47},
        "address": "x",
        "zone": "city",
    }
    case = httpx.post(f"{url}/v1/cases", json=body, headers=tokens["disp"]).json()
    r = httpx.post(
        f"{url}/v1/cases/{case['id']}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
    )
    assert r.status_code == 200, r.text
    return case["id"]


async def review(client, tokens, case_id, **body):
    return await client.post(f"/v1/cases/{case_id}/review", json=body, headers=tokens["rev"])


async def surveyed(client, tokens, clock, *, amount=1500, estimate_at=60):
    clock.set(T0)
    case = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"])
    tablet.record(case["id"], "arrived", at(20), gps=True)
    tablet.record(case["id"], "photo", at(21), category="damage")
    tablet.record(case["id"], "photo", at(22), category="vin")
    tablet.record(case["id"], "document", at(23), category="driving_licence")
    tablet.record(case["id"], "estimate_submitted", at(estimate_at), amount=amount)
    clock.set(at(estimate_at + 1))
    await tablet.flush(client, clock)
    return case, tablet
