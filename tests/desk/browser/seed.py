"""Data the browser tests look at, made through the live server's API as a tablet and a
dispatcher script would (the pages themselves are driven by the browser only)."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta, timezone
from typing import Any

import httpx

from tests.desk.browser.conftest import DeskServer
from tests.factories import new_id
from tests.media.samples import photo, sha

SCENE = {"lat": 31.2304, "lon": 121.4737}
GPS = (SCENE["lat"], SCENE["lon"])
BRANCH = timezone(timedelta(hours=8))
_numbers = itertools.count(1)


def case_no(prefix: str = "BR") -> str:
    return f"{prefix}-{new_id()[:8].upper()}"


def api(server: DeskServer, method: str, path: str, who: str = "disp", **kw) -> Any:
    response = httpx.request(method, server.url + path, headers=server.tokens[who], **kw)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def open_case(server: DeskServer, **overrides: Any) -> dict[str, Any]:
    """A case reported a minute ago by the server's (compressed) clock."""
    body = {
        "case_no": case_no(),
        "reported_at": (server.clock.now() - timedelta(minutes=1)).isoformat(),
        "location": SCENE,
        "address": "人民广场, 黄浦区, 上海",
        "zone": "city",
        "plate": "沪A12345",
        "simple_procedure": False,
    }
    return api(server, "POST", "/v1/cases", json=body | overrides)


def dispatched(server: DeskServer, surveyor: str = "sv1", **overrides: Any) -> dict[str, Any]:
    case = open_case(server, **overrides)
    api(server, "POST", f"/v1/cases/{case['id']}/dispatch", json={"surveyor": surveyor})
    return case


class Tablet:
    """A surveyor's tablet pushing packets at the server's now, with real photos."""

    def __init__(self, server: DeskServer, surveyor: str = "sv1") -> None:
        self.server = server
        self.surveyor = surveyor
        self.device_id = new_id()
        self._seq = itertools.count(1)

    def push(self, case_id: str, kind: str, *, media: list[str] | None = None, **data: Any):
        now = self.server.clock.now().isoformat()
        packet: dict[str, Any] = {
            "packet_id": new_id(),
            "seq": next(self._seq),
            "case_id": case_id,
            "kind": kind,
            "occurred_at": now,
            "data": data,
            "gps": {**SCENE, "accuracy_m": 8, "fix_time": now},
        }
        if media:
            packet["media"] = media
        body = {"device_id": self.device_id, "sent_at": now, "packets": [packet]}
        out = api(self.server, "POST", "/v1/sync/push", self.surveyor, json=body)
        assert out["results"][0]["status"] == "accepted", out
        return out

    def photo(self, case_id: str, category: str = "damage", seed: int = 0) -> str:
        local = self.server.clock.now().astimezone(BRANCH)  # the camera's own time, +08:00
        data = photo(800, 600, taken_at=local, offset="+08:00", gps=GPS, seed=seed)
        digest = sha(data)
        response = httpx.put(
            f"{self.server.url}/v1/media/{digest}",
            content=data,
            headers=self.server.tokens[self.surveyor],
        )
        assert response.status_code in (200, 201), response.text
        self.push(case_id, "photo", media=[digest], category=category)
        return digest


def surveyed(server: DeskServer, amount: float = 1500, photos: int = 2) -> dict[str, Any]:
    """A case dispatched to sv1, arrived at, photographed and estimated: awaiting review."""
    case = dispatched(server)
    tablet = Tablet(server)
    tablet.push(case["id"], "accepted")
    tablet.push(case["id"], "contacted")
    tablet.push(case["id"], "arrived")
    for n in range(photos):
        tablet.photo(case["id"], "damage" if n else "scene", seed=next(_numbers))
    tablet.push(case["id"], "survey_completed")
    items = [{"name": "front bumper", "yuan": amount}]
    tablet.push(case["id"], "estimate_submitted", amount=amount, items=items)
    thumbnails_made(server, case["id"])
    return case


def thumbnails_made(server: DeskServer, case_id: str) -> None:
    """Wait for the server's thumbnail worker (bounded, not a timed assertion), so that the
    pages show screen-sized photos rather than "no preview yet"."""
    for _ in range(400):
        items = api(server, "GET", f"/v1/cases/{case_id}/media", "rev")["items"]
        if all(item["thumbnail_url"] for item in items):
            return
        time.sleep(0.05)
    raise AssertionError(f"no thumbnails for case {case_id}")
