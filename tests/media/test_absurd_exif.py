"""Photos whose EXIF time or position is absurd are stored (PUT and tus alike), with the
absurd part left out and flagged on the case's media list; never refused, never a 5xx."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest
from PIL import Image, TiffImagePlugin

from tests.factories import dispatched_case
from tests.media.helpers import create, head, patch, push_photo
from tests.media.samples import EXIF_IFD, GPS_IFD, sha

DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
SCENE = ((Fraction(31), Fraction(13), Fraction(49)), (Fraction(121), Fraction(28), Fraction(25)))


def jpeg_with(seed: int, time: str | None = None, offset: str | None = None, gps=None) -> bytes:
    """A small JPEG whose EXIF holds exactly the raw values given."""
    exif = Image.Exif()
    if time is not None:
        exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = time
        if offset is not None:
            exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL] = offset
    if gps is not None:
        ifd = exif.get_ifd(GPS_IFD)
        ifd[1], ifd[2], ifd[3], ifd[4] = "N", gps[0], "E", gps[1]
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed, 90, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def zero_denominator() -> tuple:
    ratio = TiffImagePlugin.IFDRational
    return ((ratio(31, 0), ratio(13, 1), ratio(49, 1)), SCENE[1])


ABSURD = {
    # 0001-01-01 00:00 read as +08:00 is before year 1 in UTC
    "year-1-at-plus-8": (dict(time="0001:01:01 00:00:00"), "exif_time_invalid"),
    "year-9999-at-minus-8": (
        dict(time="9999:12:31 23:59:59", offset="-08:00"),
        "exif_time_invalid",
    ),
    "month-13": (dict(time="2026:13:05 10:00:00"), "exif_time_invalid"),
    "gps-zero-denominator": (dict(gps=zero_denominator()), "exif_gps_invalid"),
    "gps-past-the-pole": (
        dict(gps=((Fraction(10**9), Fraction(0), Fraction(0)), SCENE[1])),
        "exif_gps_invalid",
    ),
}


async def flags_of(client, tokens, case_id: str, data: bytes) -> dict:
    response = await client.get(f"/v1/cases/{case_id}/media", headers=tokens["rev"])
    assert response.status_code == 200, response.text
    [item] = [item for item in response.json()["items"] if item["sha256"] == sha(data)]
    return item


@pytest.mark.parametrize(("tags", "flag"), ABSURD.values(), ids=list(ABSURD))
async def test_absurd_exif_is_stored_by_put_and_flagged(client, tokens, tags, flag):
    data = jpeg_with(7, **tags)
    response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
    assert response.status_code == 201, response.text
    case = await dispatched_case(client, tokens)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    item = await flags_of(client, tokens, case["id"], data)
    assert item["flags"] == [flag]
    if flag == "exif_time_invalid":
        assert item["taken_at"] is None
    else:
        assert item["gps"] is None and item["distance_m"] is None


@pytest.mark.parametrize(("tags", "flag"), ABSURD.values(), ids=list(ABSURD))
async def test_absurd_exif_is_stored_by_tus_and_flagged(client, tokens, tags, flag):
    data = jpeg_with(9, **tags)
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    half = len(data) // 2
    assert (await patch(client, tokens["sv1"], url, data[:half], 0)).status_code == 204
    last = await patch(client, tokens["sv1"], url, data[half:], half)
    assert last.status_code == 204, last.text
    assert last.headers["upload-offset"] == str(len(data))
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == str(len(data))
    case = await dispatched_case(client, tokens)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    assert (await flags_of(client, tokens, case["id"], data))["flags"] == [flag]


async def test_sound_exif_next_to_absurd_exif_is_kept(client, tokens):
    """A bad time does not cost the photo its position, nor the other way round."""
    data = jpeg_with(11, time="0001:01:01 00:00:00", gps=SCENE)
    assert (
        await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
    ).status_code == 201
    case = await dispatched_case(client, tokens)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    item = await flags_of(client, tokens, case["id"], data)
    assert item["flags"] == ["exif_time_invalid"]
    assert item["gps"] is not None and item["distance_m"] < 100
