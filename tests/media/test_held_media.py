"""Photos of an irregular report (不规则报案): a packet held because its case was not yet
dispatched to its sender lists its media in the case's gallery flagged `held`; once the
dispatch to that surveyor follows within the irregular window they join, unflagged, as its
events join the timeline. A dispatch to someone else, or too late, leaves them held."""

from __future__ import annotations

from tests.factories import new_id, open_case, packet, push, push_body
from tests.media.helpers import upload
from tests.media.samples import photo, sha


async def _held_photo(client, tokens, case_id, data: bytes) -> None:
    await upload(client, tokens["sv1"], data)
    sent = packet(case_id, 1, "photo", media=[sha(data)], data={"category": "scene"})
    out = (await push(client, tokens["sv1"], push_body(new_id(), [sent]))).json()
    assert out["results"][0]["status"] == "held"
    assert out["media_wanted"] == []


async def _gallery(client, tokens, case_id) -> dict:
    response = await client.get(f"/v1/cases/{case_id}/media", headers=tokens["rev"])
    assert response.status_code == 200, response.text
    return {item["sha256"]: item for item in response.json()["items"]}


async def _dispatch(client, tokens, case_id, surveyor) -> None:
    response = await client.post(
        f"/v1/cases/{case_id}/dispatch", json={"surveyor": surveyor}, headers=tokens["disp"]
    )
    assert response.status_code == 200, response.text


async def test_held_media_are_flagged_until_the_dispatch_brings_them_in(client, tokens, clock):
    case = await open_case(client, tokens["disp"])
    data = photo(seed=31)
    await _held_photo(client, tokens, case["id"], data)
    held = (await _gallery(client, tokens, case["id"]))[sha(data)]
    assert held["flags"] == ["held"] and held["category"] == "scene"

    clock.advance(minutes=30)
    await _dispatch(client, tokens, case["id"], "sv1")
    joined = (await _gallery(client, tokens, case["id"]))[sha(data)]
    assert joined["flags"] == []
    mine = await client.get(f"/v1/cases/{case['id']}/media", headers=tokens["sv1"])
    assert [i["sha256"] for i in mine.json()["items"]] == [sha(data)]
    read = await client.get(f"/v1/media/{sha(data)}", headers=tokens["sv1"])
    assert read.status_code == 200 and read.content == data
    other = await client.get(f"/v1/media/{sha(data)}", headers=tokens["sv2"])
    assert other.status_code == 403


async def test_held_media_stay_held_when_the_case_goes_to_someone_else(client, tokens):
    case = await open_case(client, tokens["disp"])
    data = photo(seed=32)
    await _held_photo(client, tokens, case["id"], data)
    await _dispatch(client, tokens, case["id"], "sv2")
    assert (await _gallery(client, tokens, case["id"]))[sha(data)]["flags"] == ["held"]


async def test_held_media_stay_held_when_the_dispatch_comes_too_late(client, tokens, clock):
    case = await open_case(client, tokens["disp"])
    data = photo(seed=33)
    await _held_photo(client, tokens, case["id"], data)
    clock.advance(hours=25)  # past the default 24 h window
    await _dispatch(client, tokens, case["id"], "sv1")
    assert (await _gallery(client, tokens, case["id"]))[sha(data)]["flags"] == ["held"]


async def test_a_self_reported_case_shows_its_photos_held_to_the_surveyor(client, tokens):
    body = {
        "case_no": "SELF-PHOTO-1",
        "reported_at": "2026-01-05T15:55:00+08:00",
        "location": {"lat": 31.2304, "lon": 121.4737},
        "address": "人民广场",
        "zone": "city",
    }
    opened = await client.post("/v1/cases", json=body, headers=tokens["sv1"])
    assert opened.status_code == 201, opened.text
    case = opened.json()
    data = photo(seed=34)
    await _held_photo(client, tokens, case["id"], data)
    listing = await client.get(f"/v1/cases/{case['id']}/media", headers=tokens["sv1"])
    assert listing.status_code == 200, listing.text
    [item] = listing.json()["items"]
    assert item["sha256"] == sha(data) and item["flags"] == ["held"]
