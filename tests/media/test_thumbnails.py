"""Thumbnails: made by the worker off the request path, from a job table that survives
restarts; JPEG draft mode keeps a 12-megapixel photo from being fully decoded."""

from __future__ import annotations

import io

from litestar.testing import AsyncTestClient
from PIL import Image

from media.images import describe
from media.ingest import record
from media.models import ThumbnailJob
from media.store import FileStore, new_temp, object_key
from media.thumbnails import MAX_ATTEMPTS, ThumbnailWorker, render
from server.app import create_app
from tests.media.helpers import eventually, job_done
from tests.media.samples import photo, sha


def test_a_12_megapixel_jpeg_is_decoded_in_draft_mode(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(photo(4000, 3000, seed=1))
    rendered = render(path)
    assert rendered.decoded_size == (2000, 1500)  # a quarter of the pixels, never all 12 M
    screen = Image.open(io.BytesIO(rendered.thumbnails["screen"]))
    small = Image.open(io.BytesIO(rendered.thumbnails["small"]))
    assert (screen.size, small.size) == ((1600, 1200), (320, 240))
    assert screen.format == small.format == "JPEG"


def test_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    path.write_bytes(photo(800, 600, orientation=8))
    small = Image.open(io.BytesIO(render(path).thumbnails["small"]))
    assert small.size == (240, 320)


async def store_without_thumbnails(db, store, data: bytes, now) -> None:
    """An object stored and recorded with its pending job, as a server killed at once leaves it."""
    temp = new_temp(store.staging_dir)
    temp.write_bytes(data)
    facts = describe(temp)
    await store.put_file(object_key(sha(data)), temp, facts.content_type)
    async with db.session() as session:
        assert await record(session, sha(data), len(data), facts, now)
        await session.commit()


async def test_pending_jobs_are_taken_up_when_the_server_starts(settings, db, tokens, clock):
    store = FileStore(settings.data_path / "media")
    data = photo(seed=2)
    await store_without_thumbnails(db, store, data, clock.now())
    async with db.session(write=False) as session:
        assert (await session.get(ThumbnailJob, sha(data))).status == "pending"
    # A server starting over this database and store finds the job and does it.
    async with AsyncTestClient(app=create_app(settings, clock=clock, store=store)) as client:
        await eventually(job_done(db, sha(data)))
        response = await client.get(f"/v1/media/{sha(data)}/thumbnail", headers=tokens["rev"])
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.content)).size == (320, 240)
    async with db.session(write=False) as session:
        job = await session.get(ThumbnailJob, sha(data))
    assert (job.status, job.finished_at) == ("done", clock.now())


async def test_an_unrenderable_object_fails_its_job_and_the_worker_goes_on(store, db, clock):
    good = photo(seed=3)
    await store_without_thumbnails(db, store, good, clock.now())
    broken = photo(seed=4)
    await store_without_thumbnails(db, store, broken, clock.now())
    # The stored bytes of one object get damaged behind the server's back.
    await store.put_bytes(object_key(sha(broken)), broken[:200], "image/jpeg")
    worker = ThumbnailWorker(db, store, clock)
    for _ in range(MAX_ATTEMPTS):
        await worker.run_pending()
    async with db.session(write=False) as session:
        ok = await session.get(ThumbnailJob, sha(good))
        failed = await session.get(ThumbnailJob, sha(broken))
    assert ok.status == "done" and ok.attempts == 1
    assert failed.status == "failed" and failed.attempts == MAX_ATTEMPTS and failed.error
    assert await store.exists(object_key(sha(good), "small"))
    assert await store.exists(object_key(sha(good), "screen"))
    assert not await store.exists(object_key(sha(broken), "small"))
    assert await worker.run_pending() == 0  # nothing left to do


def test_heic_photos_get_thumbnails_too(tmp_path):
    from tests.media.samples import heic

    path = tmp_path / "photo.heic"
    path.write_bytes(heic(400, 300))
    small = Image.open(io.BytesIO(render(path).thumbnails["small"]))
    assert small.size == (320, 240) and small.format == "JPEG"
