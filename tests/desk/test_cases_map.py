"""The case map: points laid out in Web Mercator around the scene, distances in metres, far
points listed but not drawn, and the tiles of a configured tile server lining up; a case page
drawn over tiles when KANCHA_DESK_TILE_URL is set; no desk input on the case pages is a 5xx."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.desk.case_map import HEIGHT, WIDTH, MapPoint, case_map, tile_href
from tests.desk.helpers import log_in, with_password
from tests.factories import at, dispatched_case, new_id
from tests.tablets import Tablet

SCENE = (31.2304, 121.4737)
TILES = "https://tiles.example/{z}/{x}/{y}.png"


def _point(kind, lat, lon, minute=0):
    return MapPoint(kind, lat, lon, kind, datetime(2026, 1, 5, 8, minute, tzinfo=UTC))


def test_points_fit_the_map_with_their_distances():
    scene = MapPoint("scene", *SCENE)
    arrival = _point("arrival", 31.2574, 121.4737)  # 3 km north
    track = [_point("position", 31.24, 121.47, 2), _point("position", 31.25, 121.473, 1)]
    far = _point("photo", 39.9042, 116.4074)  # Beijing: listed, not drawn
    drawn = case_map(scene, [arrival, *track, far])
    assert 2990 < arrival.distance_m < 3010
    assert far.on_map is False and far.distance_m > 1_000_000
    for point in (scene, arrival, *track):
        assert 0 <= point.x <= WIDTH and 0 <= point.y <= HEIGHT
    assert arrival.y < scene.y and abs(arrival.x - scene.x) < 1  # north is up
    # The track in time order: minute 1 before minute 2.
    assert drawn.track.startswith(f"{track[1].x},{track[1].y}")
    assert 0 < drawn.scale_px <= 160 and drawn.radius_px > 0
    assert drawn.tiles == []


def test_tiles_line_up_under_the_scene():
    scene = MapPoint("scene", *SCENE)
    drawn = case_map(scene, [_point("arrival", 31.2310, 121.4740)], TILES)
    zoom = drawn.zoom
    n = 2**zoom
    x = int((SCENE[1] + 180) / 360 * n)
    lat = math.radians(SCENE[0])
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)
    under = [t for t in drawn.tiles if t.x <= scene.x < t.x + 256 and t.y <= scene.y < t.y + 256]
    assert [t.href for t in under] == [tile_href(TILES, zoom, x, y)]
    assert tile_href("https://t/{z}/{x}/{y}?k={key}", 3, 1, 2) == "https://t/3/1/2?k={key}"


async def test_the_case_page_draws_tiles_when_a_tile_server_is_set(settings, clock, tokens, db):
    app = create_app(msgspec.structs.replace(settings, desk_tile_url=TILES), clock=clock)
    async with AsyncTestClient(app=app) as client:
        await with_password(db, "disp")
        await log_in(client, "disp")
        clock.set(at(0))
        case = await dispatched_case(client, tokens)
        tablet = Tablet(tokens["sv1"])
        tablet.record(case["id"], "arrived", at(20), gps=True)
        clock.set(at(21))
        await tablet.flush(client, clock)
        html = (await client.get(f"/cases/{case['id']}")).text
    assert re.search(r'<image href="https://tiles\.example/\d+/\d+/\d+\.png"', html)


@pytest.mark.parametrize(
    "query",
    [
        "from=0001-01-01",
        "to=9999-12-31",
        "from=9999-12-31T23:59:59-14:00",
        "to=2026-02-30",
        "limit=99999999999999999999",
        "offset=%EF%BC%91",  # a full-width digit
        "case_no=%00",
        "plate=" + "沪" * 500,
        "state=%F0%9F%9A%97",
        "surveyor=%25_%5C",
        "from=2026-01-05&to=2026-01-05T00:00:00%2B08:00",
    ],
)
async def test_no_search_input_is_a_5xx(client, tokens, db, query):
    await with_password(db, "disp")
    await log_in(client, "disp")
    response = await client.get(f"/cases?{query}")
    assert response.status_code in (200, 400), response.text
    assert "<html" in response.text  # a page, never a JSON error


async def test_no_case_path_is_a_5xx(client, tokens, db):
    await with_password(db, "rev")
    await log_in(client, "rev")
    case = await dispatched_case(client, tokens)
    for path in (
        f"/cases/{new_id()}/timings",
        f"/cases/{new_id()}/media/{'a' * 64}",
        f"/cases/{case['id']}/media/%00",
        f"/cases/{case['id']}/media/{'Z' * 300}",
    ):
        response = await client.get(path)
        assert response.status_code == 404, (path, response.text)
