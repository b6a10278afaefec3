"""Files that carry the right magic bytes but do not decode are refused (422 naming why),
by PUT and at tus completion, and nothing of them is kept; media are served `nosniff`."""

from __future__ import annotations

import struct

import pytest
from sqlalchemy import func, select

from media.models import MediaObject, ThumbnailJob
from tests.factories import dispatched_case
from tests.media.helpers import create, eventually, head, job_done, patch, push_photo, upload
from tests.media.samples import heic, pdf, photo, png, sha


def huge_heif() -> bytes:
    """A real HEIC whose `ispe` box claims 60000x60000 (the header reports less)."""
    data = heic()
    at = data.find(b"ispe")
    return data[: at + 8] + struct.pack(">II", 60000, 60000) + data[at + 16 :]


def _headers_only(data: bytes) -> bytes:
    """A JPEG cut just after its start-of-scan segment: headers whole, no image data."""
    sos = data.find(b"\xff\xda")
    return data[: sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")]


BROKEN = {
    "jpeg-first-3000-bytes": (lambda: photo(seed=61, noise=True)[:3000], "body: truncated JPEG"),
    # Cut in the very last bytes: every marker and all but the end of the scan are there.
    "jpeg-without-eoi": (lambda: photo(seed=64, noise=True)[:-2], "body: truncated JPEG"),
    "jpeg-only-headers": (lambda: _headers_only(photo(seed=65)), "body: truncated JPEG"),
    "png-cut": (lambda: png(300, 200)[:150], "body: truncated PNG"),
    "pdf-5-bytes": (lambda: b"%PDF-", "body: PDF without a version"),
    "pdf-without-eof": (lambda: pdf().replace(b"%%EOF", b""), "body: truncated PDF"),
    "heif-60000x60000": (huge_heif, "body: 60000x60000 pixels is over the limit"),
}


async def held_count(db) -> int:
    async with db.session(write=False) as session:
        return await session.scalar(select(func.count()).select_from(MediaObject))


@pytest.mark.parametrize(("make", "why"), BROKEN.values(), ids=list(BROKEN))
async def test_put_refuses_what_does_not_decode(client, tokens, db, settings, make, why):
    data = make()
    response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(why)
    assert await held_count(db) == 0
    assert [p for p in (settings.data_path / "media").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(("make", "why"), BROKEN.values(), ids=list(BROKEN))
async def test_tus_completion_refuses_what_does_not_decode(client, tokens, db, make, why):
    data = make()
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    response = await patch(client, tokens["sv1"], url, data, 0)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(why)
    assert await held_count(db) == 0
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == "0"


async def test_whole_files_of_each_kind_still_pass(client, tokens):
    for data in (photo(seed=62, noise=True), png(300, 200), pdf(), heic()):
        response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
        assert response.status_code == 201, response.text


async def test_a_jpeg_with_bytes_after_its_end_passes(client, tokens):
    """Cameras append data after EOI (motion photos, maker trailers): still a whole JPEG."""
    data = photo(seed=66) + b"MotionPhoto_Data" + bytes(range(256)) * 64
    response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
    assert response.status_code == 201, response.text


async def test_a_jpeg_corrupt_within_is_stored_and_its_thumbnail_job_fails(client, tokens, db):
    """A JPEG whole in structure whose content will not decode (here a Huffman table under
    index 5 of 0-3, which libjpeg refuses) passes the upload's check (no decode there): the
    bytes are kept as the tablet sent them and the thumbnail worker records the failure."""
    whole = photo(seed=67)
    dht = whole.find(b"\xff\xc4")
    data = whole[: dht + 4] + b"\x05" + whole[dht + 5 :]
    response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
    assert response.status_code == 201, response.text
    await eventually(job_done(db, sha(data)))
    async with db.session(write=False) as session:
        assert (await session.get(ThumbnailJob, sha(data))).status == "failed"
        assert await session.get(MediaObject, sha(data)) is not None


async def test_media_and_thumbnails_are_served_nosniff(client, tokens, db):
    data = photo(seed=63)
    await upload(client, tokens["sv1"], data)
    case = await dispatched_case(client, tokens)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    await eventually(job_done(db, sha(data)))
    for path in ("", "/thumbnail", "/thumbnail?size=screen"):
        response = await client.get(f"/v1/media/{sha(data)}{path}", headers=tokens["rev"])
        assert response.status_code == 200, response.text
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_s3_redirects_are_served_nosniff(s3_client, tokens):
    data = photo(seed=64)
    await upload(s3_client, tokens["sv1"], data)
    response = await s3_client.get(
        f"/v1/media/{sha(data)}", headers=tokens["rev"], follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["x-content-type-options"] == "nosniff"
