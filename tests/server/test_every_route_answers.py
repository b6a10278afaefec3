"""Every route of the app, for OPTIONS, HEAD and GET, anonymous, with a bad token and with
each role's token: no answer is a 5xx. Routes come from the app's own route map, so a new
route is covered without touching this test."""

from __future__ import annotations

import re
import uuid

from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.factories import bearer

PARAM = re.compile(r"\{(\w+):(\w+)\}")
SAMPLE = {"uuid": str(uuid.UUID(int=7)), "int": "1"}


def concrete(path: str) -> str:
    """The route's path with each parameter filled in with a value of its type."""
    return PARAM.sub(lambda m: SAMPLE.get(m.group(2), "x"), path)


def every_route(app: Litestar) -> list[tuple[str, set[str]]]:
    routes = [(concrete(r.path), set(r.methods)) for r in app.routes if isinstance(r, HTTPRoute)]
    assert len(routes) > 20 and any(path.startswith("/v1/devices") for path, _ in routes)
    return routes


async def test_no_route_answers_5xx_to_options_head_or_get(app, client, tokens):
    auths = {"anonymous": {}, "bad token": bearer("kt_not-a-token"), **tokens}
    failures = []
    for path, methods in every_route(app):
        for method in ["OPTIONS", "HEAD", *(["GET"] if "GET" in methods else [])]:
            for who, headers in auths.items():
                response = await client.request(method, path, headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{method} {path} as {who}: {response.status_code}")
    assert failures == []


async def test_options_on_a_guarded_controller_lists_its_methods(client):
    response = await client.options("/v1/devices")
    assert response.status_code == 204
    assert "GET" in response.headers["allow"]


async def test_guarded_get_still_needs_a_token(client, tokens):
    assert (await client.get("/v1/devices")).status_code == 401
    assert (await client.get("/v1/devices", headers=tokens["sv1"])).status_code == 403
    assert (await client.get("/v1/devices", headers=tokens["disp"])).status_code == 200
