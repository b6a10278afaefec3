"""Every desk route, logged in as an admin (who may open them all), with junk in the path, the
query and the form: no answer is a 5xx. Routes come from the app's route map, so a new desk
page is covered without touching this test."""

from __future__ import annotations

from litestar.routes import HTTPRoute

from tests.desk.helpers import csrf_of_page, log_in, with_password
from tests.factories import dispatched_case
from tests.server.test_every_route_answers import PARAM, concrete

JUNK_QUERY = {
    "from": "2026-13-45",
    "to": "x",
    "page": "-1",
    "offset": "99999999999999999999",
    "zone": "\x00",
    "state": "<script>",
    "group_by": "moon",
    "next": "//evil",
}
JUNK_FORM = {
    "case_no": "\x00" * 3,
    "reported_at": "yesterday",
    "lat": "nan",
    "lon": "1e999",
    "zone": "moon",
    "surveyor": "",
    "purpose": "picnic",
    "approved_amount": "-1e400",
    "amount": "many",
    "reason": "x" * 5000,
    "role": "king",
    "team": "\u202e",
    "max_approve": "inf",
    "password": "",
    "name": "",
}


def desk_routes(app, case_id: str) -> list[tuple[str, set[str]]]:
    """Each desk route twice: with made-up ids and with a real case (and user 1)."""
    out = []
    for r in app.routes:
        if isinstance(r, HTTPRoute) and not r.path.startswith(("/v1", "/schema", "/health")):
            out.append((concrete(r.path), set(r.methods)))
            real = PARAM.sub(lambda m: case_id if m.group(2) == "uuid" else "1", r.path)
            out.append((real, set(r.methods)))
    return out


async def test_no_desk_route_answers_5xx_to_junk(app, client, tokens, db):
    case = await dispatched_case(client, tokens)
    await with_password(db, "admin")
    await log_in(client, "admin")
    csrf = await csrf_of_page(client, "/board")
    failures = []
    routes = desk_routes(app, case["id"])
    assert any(path.startswith("/admin") for path, _ in routes)
    for path, methods in routes:
        if path == "/logout" or path.endswith("/revoke"):
            continue  # would end the session the rest of the loop needs
        if "GET" in methods:
            response = await client.get(path, params=JUNK_QUERY)
            if response.status_code >= 500:
                failures.append(f"GET {path}: {response.status_code}")
        if "POST" in methods:
            response = await client.post(path, data=JUNK_FORM | {"csrf": csrf})
            if response.status_code >= 500:
                failures.append(f"POST {path}: {response.status_code}")
    assert failures == []
