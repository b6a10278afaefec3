"""The desk's admin shows a new surveyor's Collect QR code beside the token shown once;
not for desk roles. The code is checked by what it encodes: the same segno code made from
the settings carrying that token and this server's URL."""

from __future__ import annotations

import re

from sync.openrosa.qr import collect_settings, svg_data_uri
from tests.desk.test_admin import admin, shown_token  # noqa: F401  (fixture)


async def test_a_new_surveyors_token_page_shows_the_collect_qr(client, admin):  # noqa: F811
    response = await client.post(
        "/admin/users", data={"csrf": admin, "name": "sv9", "role": "surveyor"}
    )
    assert response.status_code == 201, response.text
    token = shown_token(response.text)
    [src] = re.findall(r'<figure id="collect-qr">\s*<img src="([^"]+)"', response.text)
    server = str(client.base_url).rstrip("/")
    assert src.replace("&amp;", "&") == svg_data_uri(collect_settings(server, token, "sv9"))
    reviewer = await client.post(
        "/admin/users",
        data={"csrf": admin, "name": "rv9", "role": "reviewer", "password": "a long password"},
    )
    assert reviewer.status_code == 201 and "collect-qr" not in reviewer.text
