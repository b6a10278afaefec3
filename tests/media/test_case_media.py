"""Media found through the packets that reference them, in either order; EXIF facts and
fraud flags; who may read what."""

from __future__ import annotations

import io
from datetime import datetime
from urllib.parse import parse_qs, urlparse

import httpx
from PIL import Image

from tests.factories import dispatched_case
from tests.media.helpers import eventually, job_done, push_photo, upload
from tests.media.samples import pdf, photo, sha

SCENE = (31.2304, 121.4737)  # the case location of tests.factories.case_body
NEAR = (31.2310, 121.4740)  # about 70 m away
REPORTED = datetime(2026, 1, 5, 15, 55)  # local time (+08:00) of the report


async def listing(client, headers, case_id: str) -> dict:
    response = await client.get(f"/v1/cases/{case_id}/media", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_photo_before_packet_is_linked_with_exif_facts(client, tokens):
    case = await dispatched_case(client, tokens)
    data = photo(taken_at=datetime(2026, 1, 5, 16, 10), offset="+08:00", gps=NEAR)
    await upload(client, tokens["sv1"], data)
    out = await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    assert out["media_wanted"] == []
    media = await listing(client, tokens["rev"], case["id"])
    assert media["missing"] == []
    [item] = media["items"]
    assert item["sha256"] == sha(data) and item["category"] == "damage"
    assert item["content_type"] == "image/jpeg"
    assert item["taken_at"] == "2026-01-05T08:10:00Z"
    assert abs(item["gps"]["lat"] - NEAR[0]) < 1e-5 and abs(item["gps"]["lon"] - NEAR[1]) < 1e-5
    assert (item["width"], item["height"], item["bytes"]) == (640, 480, len(data))
    assert item["url"] == f"/v1/media/{sha(data)}"
    assert item["flags"] == [] and 0 < item["distance_m"] < 100


async def test_packet_before_photo_is_linked_when_the_bytes_arrive(client, tokens):
    case = await dispatched_case(client, tokens)
    data = photo(seed=7)
    out = await push_photo(client, tokens["sv1"], case["id"], [sha(data)], category="vin")
    assert out["media_wanted"] == [sha(data)]
    before = await listing(client, tokens["sv1"], case["id"])
    assert before == {"case_id": case["id"], "items": [], "missing": [sha(data)]}
    await upload(client, tokens["sv1"], data)
    [item] = (await listing(client, tokens["sv1"], case["id"]))["items"]
    assert item["category"] == "vin" and item["taken_at"] is None and item["gps"] is None


async def test_far_old_and_reused_photos_are_flagged(client, tokens):
    case = await dispatched_case(client, tokens)
    other = await dispatched_case(client, tokens, surveyor="sv2")
    far = photo(seed=1, gps=(31.2800, 121.4737), taken_at=datetime(2026, 1, 5, 16, 0))  # 5.5 km
    old = photo(seed=2, gps=NEAR, taken_at=datetime(2026, 1, 3, 9, 0))  # 2 days before
    naive_ok = photo(seed=3, taken_at=datetime(2026, 1, 4, 16, 0))  # 23h55 before, no offset
    reused = photo(seed=4)
    for data in (far, old, naive_ok, reused):
        await upload(client, tokens["sv1"], data)
    await push_photo(client, tokens["sv1"], case["id"], [sha(d) for d in (far, old, naive_ok)])
    await push_photo(client, tokens["sv1"], case["id"], [sha(reused)], seq=1)
    await push_photo(client, tokens["sv2"], other["id"], [sha(reused)])
    items = {i["sha256"]: i for i in (await listing(client, tokens["rev"], case["id"]))["items"]}
    assert items[sha(far)]["flags"] == ["far_from_scene"]
    assert items[sha(far)]["distance_m"] > 5000
    # Both are also over an hour from their packet's event (16:05): media.fraud_flags.
    assert items[sha(old)]["flags"] == ["taken_before_report", "exif_time_far"]
    assert items[sha(naive_ok)]["flags"] == ["exif_time_far"]  # +08:00: inside the 24 h
    assert items[sha(naive_ok)]["taken_at"] == "2026-01-04T08:00:00Z"
    assert items[sha(reused)]["flags"] == ["reused_on_other_case"]
    assert items[sha(reused)]["other_cases"] == [other["id"]]
    [on_other] = (await listing(client, tokens["rev"], other["id"]))["items"]
    assert on_other["other_cases"] == [case["id"]]
    [seen_by_surveyor] = (await listing(client, tokens["sv2"], other["id"]))["items"]
    assert seen_by_surveyor["flags"] == ["reused_on_other_case"]
    assert seen_by_surveyor["other_cases"] == []  # other cases' ids are for the desk only


async def test_only_the_desk_and_the_cases_surveyor_read_media(client, tokens):
    case = await dispatched_case(client, tokens)
    data = photo(seed=11)
    await upload(client, tokens["sv1"], data)
    url = f"/v1/media/{sha(data)}"
    assert (await client.get(url, headers=tokens["sv1"])).status_code == 403  # not linked yet
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    for who in ("rev", "disp", "admin", "sv1"):
        response = await client.get(url, headers=tokens[who])
        assert response.status_code == 200, (who, response.text)
        assert response.content == data and response.headers["content-type"] == "image/jpeg"
    assert (await client.get(url, headers=tokens["sv2"])).status_code == 403
    assert (await client.get(f"{url}/thumbnail", headers=tokens["sv2"])).status_code == 403
    assert (
        await client.get(f"/v1/cases/{case['id']}/media", headers=tokens["sv2"])
    ).status_code == 403
    # Re-dispatched to sv2: the case is theirs now, no longer sv1's.
    redispatch = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv2"}, headers=tokens["disp"]
    )
    assert redispatch.status_code == 200
    assert (await client.get(url, headers=tokens["sv2"])).status_code == 200
    assert (await client.get(url, headers=tokens["sv1"])).status_code == 403


async def test_unknown_media_is_404_for_the_desk_and_403_for_surveyors(client, tokens):
    url = f"/v1/media/{'ab' * 32}"
    assert (await client.get(url, headers=tokens["rev"])).status_code == 404
    assert (await client.get(url, headers=tokens["sv1"])).status_code == 403
    assert (await client.get("/v1/media/nothex", headers=tokens["rev"])).status_code == 400


async def test_thumbnails_are_made_upright_in_two_sizes(client, tokens, db):
    case = await dispatched_case(client, tokens)
    data = photo(640, 480, orientation=6)  # stored landscape, shown portrait
    document = pdf()
    await upload(client, tokens["sv1"], data)
    await upload(client, tokens["sv1"], document)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data), sha(document)])
    await eventually(job_done(db, sha(data)))
    items = {i["sha256"]: i for i in (await listing(client, tokens["rev"], case["id"]))["items"]}
    assert (items[sha(data)]["width"], items[sha(data)]["height"]) == (480, 640)
    assert items[sha(document)]["thumbnail_url"] is None  # a PDF has none
    small = await client.get(items[sha(data)]["thumbnail_url"], headers=tokens["rev"])
    screen = await client.get(items[sha(data)]["screen_url"], headers=tokens["rev"])
    assert small.status_code == screen.status_code == 200
    assert small.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(small.content)).size == (240, 320)  # upright, within 320
    assert Image.open(io.BytesIO(screen.content)).size == (480, 640)  # never enlarged
    none = await client.get(f"/v1/media/{sha(document)}/thumbnail", headers=tokens["rev"])
    assert none.status_code == 404
    bad = await client.get(f"/v1/media/{sha(data)}/thumbnail?size=huge", headers=tokens["rev"])
    assert bad.status_code == 400


async def test_on_s3_reads_redirect_to_a_short_lived_signed_url(s3_client, tokens, db, settings):
    client = s3_client
    case = await dispatched_case(client, tokens)
    data = photo(seed=21)
    await upload(client, tokens["sv1"], data)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    response = await client.get(
        f"/v1/media/{sha(data)}", headers=tokens["rev"], follow_redirects=False
    )
    assert response.status_code == 307
    location = response.headers["location"]
    query = parse_qs(urlparse(location).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(settings.signed_url_seconds)] == ["300"]
    async with httpx.AsyncClient() as http:
        fetched = await http.get(location)
    assert fetched.status_code == 200 and fetched.content == data
    await eventually(job_done(db, sha(data)))
    thumb = await client.get(
        f"/v1/media/{sha(data)}/thumbnail", headers=tokens["rev"], follow_redirects=False
    )
    assert thumb.status_code == 307
    async with httpx.AsyncClient() as http:
        small = await http.get(thumb.headers["location"])
    assert Image.open(io.BytesIO(small.content)).size == (320, 240)
