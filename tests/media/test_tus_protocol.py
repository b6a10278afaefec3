"""tus 1.0.0 at /v1/uploads, request by request: creation, offsets, checksums,
termination, expiration, and every refusal (stock-client runs are in test_tus_client.py)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import func, select

from media.models import MediaObject, TusUpload
from media.tus import sweep_expired
from tests.media.helpers import TUS, create, head, meta, patch
from tests.media.samples import photo, sha


async def test_options_advertise_the_server(client):
    response = await client.options("/v1/uploads")  # no token needed for discovery
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) >= {
        "creation",
        "checksum",
        "termination",
        "expiration",
    }
    assert set(response.headers["tus-checksum-algorithm"].split(",")) >= {"sha1", "sha256"}
    assert response.headers["tus-max-size"] == str(50 * 1024 * 1024)


async def test_upload_in_chunks_with_checksums_lands_like_a_put(client, tokens, db):
    data = photo(seed=5)
    created = await create(client, tokens["sv1"], data)
    assert created.status_code == 201, created.text
    assert created.headers["tus-resumable"] == "1.0.0"
    assert "upload-expires" in created.headers
    url = created.headers["location"]
    assert url.startswith("/v1/uploads/")
    first = await head(client, tokens["sv1"], url)
    assert first.status_code == 200
    assert (first.headers["upload-offset"], first.headers["upload-length"]) == ("0", str(len(data)))
    assert first.headers["upload-metadata"] == meta(sha256=sha(data), filename="scene.jpg")
    assert first.headers["cache-control"] == "no-store"
    cut = len(data) // 3
    for algorithm, start, end in (("sha1", 0, cut), ("sha256", cut, len(data))):
        chunk = data[start:end]
        digest = base64.b64encode(hashlib.new(algorithm, chunk).digest()).decode()
        response = await patch(
            client, tokens["sv1"], url, chunk, start, **{"Upload-Checksum": f"{algorithm} {digest}"}
        )
        assert response.status_code == 204, response.text
        assert response.headers["upload-offset"] == str(end)
    async with db.session(write=False) as session:
        row = await session.get(MediaObject, sha(data))
    assert row is not None and row.size_bytes == len(data) and row.width == 640
    done = await head(client, tokens["sv1"], url)
    assert done.headers["upload-offset"] == str(len(data))
    again = await patch(client, tokens["sv1"], url, b"", len(data))
    assert again.status_code == 409  # complete: nothing more to take


async def test_checksum_mismatch_is_460_and_the_chunk_is_dropped(client, tokens):
    data = photo(seed=6)
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    assert (await patch(client, tokens["sv1"], url, data[:1000], 0)).status_code == 204
    wrong = base64.b64encode(hashlib.sha1(b"other bytes").digest()).decode()
    response = await patch(
        client, tokens["sv1"], url, data[1000:2000], 1000, **{"Upload-Checksum": f"sha1 {wrong}"}
    )
    assert response.status_code == 460
    assert response.json()["detail"].startswith("Upload-Checksum:")
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == "1000"
    unknown = await patch(
        client, tokens["sv1"], url, data[1000:2000], 1000, **{"Upload-Checksum": "crc32 AAAA"}
    )
    assert unknown.status_code == 400
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == "1000"


async def test_refusals_name_the_header(client, tokens):
    data = photo(seed=8)
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    no_version = await client.patch(
        url,
        content=data,
        headers={
            **tokens["sv1"],
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert no_version.status_code == 412
    wrong_type = await patch(client, tokens["sv1"], url, data, 0, **{"Content-Type": "image/jpeg"})
    assert wrong_type.status_code == 415
    wrong_offset = await patch(client, tokens["sv1"], url, data[10:], 10)
    assert wrong_offset.status_code == 409
    assert "Upload-Offset" in wrong_offset.json()["detail"]
    too_long = await patch(client, tokens["sv1"], url, data + b"extra", 0)
    assert too_long.status_code == 400
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == "0"
    not_int = await patch(client, tokens["sv1"], url, data, 0, **{"Upload-Offset": "-1"})
    assert not_int.status_code == 400


@pytest.mark.parametrize(
    ("headers", "status", "names"),
    [
        ({"Upload-Metadata": meta(filename="x.jpg")}, 400, "Upload-Metadata: sha256"),
        ({"Upload-Metadata": meta(sha256="xyz")}, 400, "Upload-Metadata: sha256"),
        ({"Upload-Metadata": "sha256 !!notbase64"}, 400, "Upload-Metadata"),
        ({"Upload-Length": "-5"}, 400, "Upload-Length"),
        ({"Upload-Length": str(51 * 1024 * 1024)}, 413, "Upload-Length"),
        ({"Upload-Defer-Length": "1"}, 400, "Upload-Defer-Length"),
        ({"Tus-Resumable": "0.2.2"}, 412, "Tus-Resumable"),
    ],
)
async def test_creation_refusals(client, tokens, db, headers, status, names):
    response = await create(client, tokens["sv1"], photo(), **headers)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(names)
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(TusUpload)) == 0


async def test_finished_upload_with_other_bytes_is_422_and_nothing_kept(client, tokens, db):
    data = photo(seed=9)
    forged = photo(seed=10)[: len(data)].ljust(len(data), b"\0")
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    response = await patch(client, tokens["sv1"], url, forged, 0)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("sha256:")
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == "0"
    async with db.session(write=False) as session:
        assert await session.get(MediaObject, sha(data)) is None
    # The honest bytes can still follow.
    assert (await patch(client, tokens["sv1"], url, data, 0)).status_code == 204


async def test_plain_patches_in_pieces_are_hashed_whole_at_the_end(client, tokens, db):
    """Only a PATCH that writes a whole upload hashes it on the way in; pieces are hashed
    from the part file once the last one lands, so a forged later piece is still caught."""
    data = photo(seed=11)
    half = len(data) // 2
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    assert (await patch(client, tokens["sv1"], url, data[:half], 0)).status_code == 204
    forged = bytes(len(data) - half)
    refused = await patch(client, tokens["sv1"], url, forged, half)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("sha256:")
    async with db.session(write=False) as session:
        assert await session.get(MediaObject, sha(data)) is None
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    assert (await patch(client, tokens["sv1"], url, data[:half], 0)).status_code == 204
    assert (await patch(client, tokens["sv1"], url, data[half:], half)).status_code == 204
    async with db.session(write=False) as session:
        row = await session.get(MediaObject, sha(data))
    assert row is not None and row.size_bytes == len(data)


async def test_termination_and_ownership(client, tokens, settings):
    data = photo(seed=12)
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    assert (await patch(client, tokens["sv1"], url, data[:500], 0)).status_code == 204
    assert (await head(client, tokens["sv2"], url)).status_code == 404  # not theirs
    assert (await patch(client, tokens["sv2"], url, data[500:], 500)).status_code == 404
    assert (await client.delete(url, headers={**tokens["sv2"], **TUS})).status_code == 404
    deleted = await client.delete(url, headers={**tokens["sv1"], **TUS})
    assert deleted.status_code == 204
    assert (await head(client, tokens["sv1"], url)).status_code == 404
    assert list((settings.data_path / "uploads").glob("*.part")) == []
    bogus = await head(client, tokens["sv1"], "/v1/uploads/..%2F..%2Fetc")
    assert bogus.status_code == 404


async def test_unfinished_uploads_expire(client, tokens, clock, db, settings):
    data = photo(seed=13)
    created = await create(client, tokens["sv1"], data)
    url = created.headers["location"]
    assert (await patch(client, tokens["sv1"], url, data[:700], 0)).status_code == 204
    clock.advance(seconds=settings.upload_expiry_seconds + 1)
    assert (await head(client, tokens["sv1"], url)).status_code == 410
    assert (await patch(client, tokens["sv1"], url, data[700:], 700)).status_code == 410
    uploads = settings.data_path / "uploads"
    async with db.session() as session:
        assert await sweep_expired(session, uploads, clock.now()) == 1
        await session.commit()
    assert list(uploads.glob("*.part")) == []
    assert (await head(client, tokens["sv1"], url)).status_code == 404


async def test_a_starting_server_sweeps_expired_uploads(client, tokens, clock, db, settings):
    from litestar.testing import AsyncTestClient

    from server.app import create_app
    from tests.media.helpers import eventually

    data = photo(seed=14)
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    assert (await patch(client, tokens["sv1"], url, data[:700], 0)).status_code == 204
    clock.advance(seconds=settings.upload_expiry_seconds + 1)

    async def swept() -> bool:
        async with db.session(write=False) as session:
            return await session.scalar(select(func.count()).select_from(TusUpload)) == 0

    async with AsyncTestClient(app=create_app(settings, clock=clock)):
        await eventually(swept)
    assert list((settings.data_path / "uploads").glob("*.part")) == []
