"""PUT /v1/media/{sha256}: streamed, checked by hash and type, stored once, refusals kept out."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from media.models import MediaObject, ThumbnailJob
from media.store import object_key
from tests.media.samples import fake_heic, fake_jpeg, heic, pdf, photo, png, png_bomb, sha


def put(client, data: bytes, headers, name: str | None = None, **kwargs):
    return client.put(f"/v1/media/{name or sha(data)}", content=data, headers=headers, **kwargs)


async def count(db, model) -> int:
    async with db.session(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model))


def stored_files(settings) -> list[Path]:
    root = settings.data_path / "media"
    return sorted(p for p in root.rglob("*") if p.is_file() and ".staging" not in p.parts)


async def test_new_photo_is_201_then_200_and_stored_once(client, tokens, db, settings):
    data = photo()
    first = await put(client, data, tokens["sv1"])
    assert first.status_code == 201, first.text
    assert first.json() == {
        "sha256": sha(data),
        "bytes": len(data),
        "content_type": "image/jpeg",
        "created": True,
    }
    original = settings.data_path / "media" / object_key(sha(data))
    assert original.read_bytes() == data
    mtime = original.stat().st_mtime_ns
    again = await put(client, data, tokens["sv1"])
    assert again.status_code == 200 and again.json()["created"] is False
    assert original.stat().st_mtime_ns == mtime  # nothing written again
    assert await count(db, MediaObject) == 1
    async with db.session(write=False) as session:
        row = await session.get(MediaObject, sha(data))
        assert (row.size_bytes, row.width, row.height) == (len(data), 640, 480)


@pytest.mark.parametrize(
    ("make", "content_type"),
    [(png, "image/png"), (pdf, "application/pdf"), (heic, "image/heic")],
    ids=["png", "pdf", "heic"],
)
async def test_png_and_pdf_are_taken(client, tokens, db, make, content_type):
    data = make()
    response = await put(client, data, tokens["sv1"])
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == content_type
    async with db.session(write=False) as session:
        job = await session.get(ThumbnailJob, sha(data))
    assert job.status == ("none" if content_type == "application/pdf" else "pending") or (
        job.status == "done"
    )


async def test_hash_mismatch_is_422_and_nothing_is_kept(client, tokens, db, settings):
    data = photo()
    response = await put(client, data, tokens["sv1"], name="0" * 64)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("sha256: the bytes hash to")
    assert await count(db, MediaObject) == 0
    assert stored_files(settings) == []
    assert list((settings.data_path / "media" / ".staging").iterdir()) == []


@pytest.mark.parametrize(
    "data",
    [b"GIF89a" + b"\x00" * 100, b"hello world", fake_jpeg(), fake_heic(), b""],
    ids=["gif", "text", "jpeg-magic-only", "heic-magic-only", "empty"],
)
async def test_not_media_is_415(client, tokens, db, settings, data):
    response = await put(client, data, tokens["sv1"])
    assert response.status_code == 415, response.text
    assert response.json()["detail"].startswith("body: ")
    assert await count(db, MediaObject) == 0
    assert stored_files(settings) == []


async def test_decompression_bomb_is_refused_unread(client, tokens, db, settings):
    data = png_bomb()
    assert len(data) < 100_000  # small on the wire, 400 megapixels when decoded
    response = await put(client, data, tokens["sv1"])
    assert response.status_code == 422, response.text
    assert "decompression bomb" in response.json()["detail"]
    assert await count(db, MediaObject) == 0
    assert stored_files(settings) == []


async def test_over_the_limit_is_413(tmp_path, database_url, clock, tokens):
    from litestar.testing import AsyncTestClient

    from server.app import create_app
    from server.settings import Settings

    settings = Settings(
        data_dir=str(tmp_path / "d"), database_url=database_url, max_media_bytes=4096
    )
    data = photo(320, 240, seed=3)
    assert len(data) > 4096
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        announced = await put(client, data, tokens["sv1"])
        assert announced.status_code == 413
        assert "limit of 4096 bytes" in announced.json()["detail"]
        small = png()
        assert (await put(client, small, tokens["sv1"])).status_code == 201


@pytest.mark.parametrize("name", ["abc", "G" * 64, "A" * 64, "a" * 65])
async def test_a_name_that_is_not_a_sha256_is_400(client, tokens, name):
    response = await put(client, png(), tokens["sv1"], name=name)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("sha256:")


async def test_no_token_is_401(client):
    data = png()
    assert (await client.put(f"/v1/media/{sha(data)}", content=data)).status_code == 401


async def test_a_body_without_length_is_cut_at_the_limit(tmp_path):
    """Chunked bodies announce no length: the limit holds as the bytes arrive."""
    from cases.refusal import Refusal
    from media.ingest import receive

    async def chunks():
        for _ in range(100):
            yield b"x" * 1000

    with pytest.raises(Refusal) as refused:
        await receive(chunks(), tmp_path / "staging", max_bytes=4096)
    assert refused.value.status == 413
    assert list((tmp_path / "staging").iterdir()) == []  # the spool is gone
