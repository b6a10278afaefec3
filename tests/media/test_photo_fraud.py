"""Recycled and doctored photos (issue 16), through HTTP: a re-encoded, resized copy of
another case's photo is flagged near_duplicate with that case and the distance once the
worker has hashed both; EXIF that is missing, written by an editor, or far from the
packet's time or fix is flagged with the reason; so are screenshots. The index itself:
hashes at distance d are found, at d + 1 not."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from media.models import MediaObject
from media.near_duplicates import SEGMENT_BITS, SEGMENTS, add, near, probe_keys
from media.phash import hamming
from server.settings import Settings, SettingsError
from tests.desk.reviewing import reviewer
from tests.factories import dispatched_case, new_id, packet, push, push_body
from tests.media.helpers import eventually, job_done, push_photo, upload
from tests.media.samples import pdf, photo, png, recoded, scene, screen_jpeg, sha

__all__ = ["reviewer"]  # the fixture
NEAR = (31.2310, 121.4740)  # about 70 m from the case location (tests.factories)
EVENT = datetime(2026, 1, 5, 16, 5)  # the packets' occurred_at, +08:00


async def gallery(client, headers, case_id: str) -> dict[str, dict]:
    response = await client.get(f"/v1/cases/{case_id}/media", headers=headers)
    assert response.status_code == 200, response.text
    return {item["sha256"]: item for item in response.json()["items"]}


async def test_a_reencoded_resized_copy_on_another_case_is_a_near_duplicate(
    client, tokens, db, reviewer
):
    first = await dispatched_case(client, tokens)
    second = await dispatched_case(client, tokens, surveyor="sv2")
    original = scene(1, taken_at=EVENT, offset="+08:00")
    copy = recoded(original, quality=60, scale=0.5, taken_at=EVENT, offset="+08:00")
    unrelated = scene(2, taken_at=EVENT, offset="+08:00")
    await upload(client, tokens["sv1"], original)
    await push_photo(client, tokens["sv1"], first["id"], [sha(original)])
    await push_photo(client, tokens["sv2"], second["id"], [sha(copy), sha(unrelated)])
    for data in (copy, unrelated):  # photos after their packet: the worker hashes them
        await upload(client, tokens["sv2"], data)
    for data in (original, copy, unrelated):
        await eventually(job_done(db, sha(data)))

    items = await gallery(client, tokens["rev"], second["id"])
    found = items[sha(copy)]
    assert found["flags"] == ["near_duplicate"]
    [twin] = found["near_duplicates"]
    assert (twin["case_id"], twin["sha256"]) == (first["id"], sha(original))
    assert 0 <= twin["distance"] <= 6
    assert f"{twin['distance']} of 64 bits" in found["reasons"]["near_duplicate"]
    assert items[sha(unrelated)]["flags"] == [] and items[sha(unrelated)]["near_duplicates"] == []
    back = (await gallery(client, tokens["rev"], first["id"]))[sha(original)]
    assert back["flags"] == ["near_duplicate"]
    assert [n["case_id"] for n in back["near_duplicates"]] == [second["id"]]
    # The surveyor sees the flag, not the other case.
    mine = (await gallery(client, tokens["sv2"], second["id"]))[sha(copy)]
    assert mine["flags"] == ["near_duplicate"] and mine["near_duplicates"] == []
    # The reviewer's gallery shows it with the link to the other case.
    shown = list(items).index(sha(copy)) + 1  # the gallery's order, as the API lists it
    page = await client.get(f"/review/{second['id']}?photo={shown}")
    assert page.status_code == 200
    assert "near-duplicate of a photo on another case" in page.text
    assert f'class="near-duplicate" href="/cases/{first["id"]}"' in page.text


async def test_missing_and_edited_exif_are_flagged_with_the_reason(client, tokens):
    case = await dispatched_case(client, tokens)
    bare = photo(seed=41, camera=False)
    gimp = photo(seed=42, software="GIMP 2.10.36")
    photoshop = photo(seed=43, software="Adobe Photoshop 25.0 (Windows)")
    meitu = photo(seed=44, software="美图秀秀")
    phone = photo(seed=45, software="HDR+ 1.0.641377693zd")  # a camera's firmware
    shots = (bare, gimp, photoshop, meitu, phone)
    for data in shots:
        await upload(client, tokens["sv1"], data)
    await push_photo(client, tokens["sv1"], case["id"], [sha(d) for d in shots])
    items = await gallery(client, tokens["rev"], case["id"])
    assert items[sha(bare)]["flags"] == ["no_exif"]
    assert "without any EXIF" in items[sha(bare)]["reasons"]["no_exif"]
    for data, name in ((gimp, "GIMP"), (photoshop, "Photoshop"), (meitu, "美图")):
        assert items[sha(data)]["flags"] == ["editing_software"]
        assert name in items[sha(data)]["reasons"]["editing_software"]
    assert items[sha(phone)]["flags"] == [] and items[sha(phone)]["reasons"] == {}


async def test_no_exif_is_for_camera_photos_only(client, tokens):
    """The same bare JPEG as a document is not flagged; a PDF never is."""
    case = await dispatched_case(client, tokens)
    bare, document = photo(seed=46, camera=False), pdf()
    for data in (bare, document):
        await upload(client, tokens["sv1"], data)
    sent = packet(case["id"], 1, "document", media=[sha(bare), sha(document)])
    sent["data"] = {"category": "driving_licence"}
    response = await push(client, tokens["sv1"], push_body(new_id(), [sent]))
    assert response.json()["results"][0]["status"] == "accepted", response.text
    items = await gallery(client, tokens["rev"], case["id"])
    assert items[sha(bare)]["flags"] == [] and items[sha(document)]["flags"] == []


async def test_exif_time_and_place_far_from_the_packet_are_flagged_in_either_order(client, tokens):
    case = await dispatched_case(client, tokens)
    close = photo(seed=51, taken_at=datetime(2026, 1, 5, 16, 20), offset="+08:00", gps=NEAR)
    early = photo(seed=52, taken_at=datetime(2026, 1, 5, 12, 0), offset="+08:00", gps=NEAR)
    await upload(client, tokens["sv1"], close)
    await push_photo(client, tokens["sv1"], case["id"], [sha(close), sha(early)])
    await upload(client, tokens["sv1"], early)  # after its packet: compared all the same
    items = await gallery(client, tokens["rev"], case["id"])
    assert items[sha(close)]["flags"] == []  # 15 min from the event: within the hour
    assert items[sha(early)]["flags"] == ["exif_time_far"]
    assert items[sha(early)]["reasons"]["exif_time_far"] == "EXIF time is 4.0 h before the event"
    # A packet whose fix is 3.3 km from where its photo says it was taken.
    elsewhere = photo(seed=53, taken_at=EVENT, offset="+08:00", gps=NEAR)
    await upload(client, tokens["sv1"], elsewhere)
    sent = packet(case["id"], 2, "photo", media=[sha(elsewhere)], data={"category": "damage"})
    sent["gps"] = {"lat": 31.2600, "lon": 121.4737, "accuracy_m": 8}
    response = await push(client, tokens["sv1"], push_body(new_id(), [sent]))
    assert response.json()["results"][0]["status"] == "accepted", response.text
    item = (await gallery(client, tokens["rev"], case["id"]))[sha(elsewhere)]
    assert item["flags"] == ["exif_gps_far"]
    assert item["reasons"]["exif_gps_far"] == "EXIF position is 3.2 km from the event's fix"
    # A tablet whose clock is 3 h fast stamps its photos 3 h fast too: corrected, the event
    # is 3 h from the EXIF, but the tablet's own clock agrees with it, so nothing is flagged.
    fast = photo(seed=54, taken_at=datetime(2026, 1, 5, 19, 4), offset="+08:00", gps=NEAR)
    await upload(client, tokens["sv1"], fast)
    sent = packet(case["id"], 3, "photo", media=[sha(fast)], data={"category": "damage"})
    sent["occurred_at"] = "2026-01-05T19:05:00+08:00"
    body = push_body(new_id(), [sent], sent_at="2026-01-05T19:00:00+08:00")
    response = await push(client, tokens["sv1"], body)
    assert response.json()["clock_offset_ms"] == -3 * 3600 * 1000, response.text
    assert (await gallery(client, tokens["rev"], case["id"]))[sha(fast)]["flags"] == []


async def test_screenshots_are_flagged(client, tokens):
    case = await dispatched_case(client, tokens)
    picture, phone_screen = png(), screen_jpeg()
    for data in (picture, phone_screen):
        await upload(client, tokens["sv1"], data)
    await push_photo(client, tokens["sv1"], case["id"], [sha(picture), sha(phone_screen)])
    items = await gallery(client, tokens["rev"], case["id"])
    assert items[sha(picture)]["flags"] == ["screenshot"]
    assert items[sha(phone_screen)]["flags"] == ["screenshot"]  # not no_exif as well
    assert "1170x2532 is a screen's size" in items[sha(phone_screen)]["reasons"]["screenshot"]


def _flip(value: int, count: int, rng: random.Random) -> int:
    """`value` with `count` bits flipped, spread as evenly over the segments as can be:
    the case where pigeonhole leaves the least slack."""
    per = [count // SEGMENTS + (n < count % SEGMENTS) for n in range(SEGMENTS)]
    for n, k in enumerate(per):
        for bit in rng.sample(range(SEGMENT_BITS), k):
            value ^= 1 << (n * SEGMENT_BITS + bit)
    return value


@pytest.mark.parametrize("distance", [0, 3, 6, 7, 11])
async def test_the_index_finds_hashes_within_the_distance_and_no_farther(db, distance):
    rng = random.Random(distance)
    base = rng.getrandbits(64)
    inside, outside = _flip(base, distance, rng), _flip(base, distance + 1, rng)
    unrelated = base ^ ((1 << 64) - 1)  # every bit different
    hashes = {"a" * 64: base, "b" * 64: inside, "c" * 64: outside, "d" * 64: unrelated}
    assert (hamming(base, inside), hamming(base, outside)) == (distance, distance + 1)
    async with db.session() as session:
        for key in hashes:
            session.add(
                MediaObject(
                    sha256=key,
                    size_bytes=1,
                    content_type="image/jpeg",
                    stored_at=datetime(2026, 1, 5, tzinfo=UTC),
                )
            )
        await session.flush()
        for key, value in hashes.items():
            await add(session, key, value)
            await add(session, key, value)  # a second worker: nothing changes
        await session.commit()
    async with db.session(write=False) as session:
        found = await near(session, "a" * 64, base, distance)
        assert [(m.sha256, m.distance) for m in found] == [("b" * 64, distance)]
        wider = await near(session, "a" * 64, base, distance + 1)
        assert [m.sha256 for m in wider] == ["b" * 64, "c" * 64]
    # An index look-up, not a scan: a bounded set of keys whatever the table holds.
    assert len(probe_keys(base, 6)) == SEGMENTS * (1 + SEGMENT_BITS)


def test_the_thresholds_are_read_from_the_environment_and_checked():
    settings = Settings.from_env(
        {"KANCHA_PHASH_DISTANCE": "9", "KANCHA_EXIF_TIME_SECONDS": "600"}
        | {"KANCHA_EXIF_GPS_METRES": "250.5"}
    )
    assert (settings.phash_distance, settings.exif_time_seconds) == (9, 600)
    assert settings.exif_gps_metres == 250.5
    assert Settings().phash_distance == 6
    refused = [("PHASH_DISTANCE", "16"), ("PHASH_DISTANCE", "-1")]
    refused += [("EXIF_TIME_SECONDS", "-5"), ("EXIF_GPS_METRES", "far")]
    for name, value in refused:
        with pytest.raises(SettingsError, match=f"KANCHA_{name}"):
            Settings.from_env({f"KANCHA_{name}": value})
