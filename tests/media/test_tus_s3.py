"""tus on S3 (media/tus_s3.py): parts of at least 5 MiB go to an S3 multipart upload as
they fill, the remainder waits as an incomplete-part object, and the state is in the
database; expiry aborts the multipart upload. (Two servers, kill -9 and a busy upload:
test_tus_across_servers.py.)"""

from __future__ import annotations

import base64
import hashlib
import random

from sqlalchemy import select

from media.models import MediaObject, TusPart, TusUpload
from media.s3parts import MIN_PART_BYTES, tail_key
from media.tus import sweep_expired
from tests.media.helpers import TUS, create, head, patch
from tests.media.samples import photo, sha

MiB = 1024 * 1024


def document(size: int, seed: int) -> bytes:
    """A PDF of `size` bytes (a header, random bytes, the trailer): big and cheap to make."""
    head_, tail = b"%PDF-1.4\n", b"\ntrailer << >>\n%%EOF\n"
    return head_ + random.Random(seed).randbytes(size - len(head_) - len(tail)) + tail


def bucket_objects(store) -> dict[str, int]:
    answer = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{store.prefix}/uploads/")
    return {
        item["Key"].removeprefix(f"{store.prefix}/"): item["Size"]
        for item in answer.get("Contents", [])
    }


def multipart_uploads(store) -> list[dict]:
    """The bucket's unfinished multipart uploads (rclone answers NoSuchUpload for a
    bucket that never had one)."""
    try:
        answer = store.client.list_multipart_uploads(Bucket=store.bucket)
    except store.client.exceptions.NoSuchUpload:
        return []
    return answer.get("Uploads", [])


async def state(db, upload_id: str) -> tuple[TusUpload, list[TusPart]]:
    async with db.session(write=False) as session:
        row = await session.get(TusUpload, upload_id)
        parts = (
            await session.scalars(
                select(TusPart).where(TusPart.upload_id == upload_id).order_by(TusPart.number)
            )
        ).all()
    return row, list(parts)


async def test_12_mib_in_three_odd_patches_goes_up_in_parts_and_a_tail(
    s3_client, s3_store, tokens, db
):
    client, store = s3_client, s3_store
    data = document(12 * MiB + 12345, seed=1)
    created = await create(client, tokens["sv1"], data)
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    upload_id = url.rsplit("/", 1)[1]
    cuts = [0, 3 * MiB + 7, 9 * MiB + 1001, len(data)]

    # 1st PATCH, 3 MiB: under a part, so all of it is the incomplete-part object.
    assert (await patch(client, tokens["sv1"], url, data[: cuts[1]], 0)).status_code == 204
    row, parts = await state(db, upload_id)
    assert (row.offset_bytes, row.tail_bytes, parts) == (cuts[1], cuts[1], [])
    assert bucket_objects(store) == {tail_key(upload_id, cuts[1]): cuts[1]}
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == str(cuts[1])

    # 2nd PATCH, 6 MiB: the tail and the first bytes make part 1 (5 MiB); the rest is the tail.
    second = await patch(client, tokens["sv1"], url, data[cuts[1] : cuts[2]], cuts[1])
    assert second.status_code == 204, second.text
    assert second.headers["upload-offset"] == str(cuts[2])
    row, parts = await state(db, upload_id)
    assert [(p.number, p.size_bytes) for p in parts] == [(1, MIN_PART_BYTES)]
    assert (row.offset_bytes, row.tail_bytes) == (cuts[2], cuts[2] - MIN_PART_BYTES)
    assert bucket_objects(store) == {tail_key(upload_id, cuts[2]): cuts[2] - MIN_PART_BYTES}
    [multipart] = multipart_uploads(store)
    assert multipart["UploadId"] == row.multipart_id
    listed = store.client.list_parts(
        Bucket=store.bucket, Key=multipart["Key"], UploadId=row.multipart_id
    )["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, MIN_PART_BYTES)]
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == str(cuts[2])

    # 3rd PATCH: a 5 MiB part, then the last, smaller one; assembled, checked and stored.
    last = await patch(client, tokens["sv1"], url, data[cuts[2] :], cuts[2])
    assert last.status_code == 204, last.text
    assert last.headers["upload-offset"] == str(len(data))
    async with db.session(write=False) as session:
        stored = await session.get(MediaObject, sha(data))
    assert stored is not None and stored.size_bytes == len(data)
    row, parts = await state(db, upload_id)
    assert row.completed_at is not None and parts == []
    assert multipart_uploads(store) == [] and bucket_objects(store) == {}
    body = store.client.get_object(
        Bucket=store.bucket, Key=f"media/original/{sha(data)[:2]}/{sha(data)}"
    )
    assert body["Body"].read() == data
    done = await head(client, tokens["sv1"], url)
    assert done.headers["upload-offset"] == str(len(data))


async def test_a_refused_completion_on_s3_keeps_nothing(s3_client, s3_store, tokens, db):
    data = document(6 * MiB, seed=2)
    forged = bytearray(data)
    forged[100] ^= 1
    url = (await create(s3_client, tokens["sv1"], data)).headers["location"]
    response = await patch(s3_client, tokens["sv1"], url, bytes(forged), 0)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("sha256:")
    assert (await head(s3_client, tokens["sv1"], url)).headers["upload-offset"] == "0"
    assert multipart_uploads(s3_store) == [] and bucket_objects(s3_store) == {}
    # The honest bytes can still follow, in two PATCHes.
    assert (await patch(s3_client, tokens["sv1"], url, data[:MiB], 0)).status_code == 204
    assert (await patch(s3_client, tokens["sv1"], url, data[MiB:], MiB)).status_code == 204
    async with db.session(write=False) as session:
        assert (await session.get(MediaObject, sha(data))) is not None


async def test_expiry_aborts_the_multipart_upload(s3_client, s3_store, tokens, db, clock, settings):
    data = document(7 * MiB, seed=4)
    url = (await create(s3_client, tokens["sv1"], data)).headers["location"]
    sent = 6 * MiB
    assert (await patch(s3_client, tokens["sv1"], url, data[:sent], 0)).status_code == 204
    assert len(multipart_uploads(s3_store)) == 1
    assert len(bucket_objects(s3_store)) == 1  # the tail, 1 MiB
    clock.advance(seconds=settings.upload_expiry_seconds + 1)
    assert (await head(s3_client, tokens["sv1"], url)).status_code == 410
    async with db.session() as session:
        swept = await sweep_expired(session, settings.data_path / "uploads", clock.now(), s3_store)
        await session.commit()
    assert swept == 1
    assert multipart_uploads(s3_store) == []
    assert bucket_objects(s3_store) == {}
    async with db.session(write=False) as session:
        assert await session.scalar(select(TusPart.number)) is None


async def test_a_small_photo_and_termination_on_s3(s3_client, s3_store, tokens, db):
    data = photo(seed=5)
    url = (await create(s3_client, tokens["sv1"], data)).headers["location"]
    assert (await head(s3_client, tokens["sv1"], url)).headers["upload-offset"] == "0"
    assert (await patch(s3_client, tokens["sv1"], url, data[:1000], 0)).status_code == 204
    assert (await patch(s3_client, tokens["sv1"], url, data[1000:], 1000)).status_code == 204
    assert multipart_uploads(s3_store) == []  # one part was never needed
    assert bucket_objects(s3_store) == {}
    other = photo(seed=6)
    url = (await create(s3_client, tokens["sv1"], other)).headers["location"]
    assert (await patch(s3_client, tokens["sv1"], url, other[:1000], 0)).status_code == 204
    assert (await s3_client.delete(url, headers={**tokens["sv1"], **TUS})).status_code == 204
    assert bucket_objects(s3_store) == {}
    assert (await head(s3_client, tokens["sv1"], url)).status_code == 404


async def test_checksums_and_refusals_on_s3_keep_the_offset(s3_client, s3_store, tokens, db):
    client, sv1 = s3_client, tokens["sv1"]
    data = document(6 * MiB, seed=7)
    url = (await create(client, sv1, data)).headers["location"]
    first = data[: 5 * MiB + 3]
    digest = base64.b64encode(hashlib.sha1(first).digest()).decode()
    ok = await patch(client, sv1, url, first, 0, **{"Upload-Checksum": f"sha1 {digest}"})
    assert ok.status_code == 204, ok.text
    row, parts = await state(db, url.rsplit("/", 1)[1])
    assert [p.size_bytes for p in parts] == [MIN_PART_BYTES] and row.tail_bytes == 3
    rest = data[len(first) :]
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    mismatch = await patch(
        client, sv1, url, rest, len(first), **{"Upload-Checksum": f"sha1 {wrong}"}
    )
    assert mismatch.status_code == 460
    too_long = await patch(client, sv1, url, rest + b"extra", len(first))
    assert too_long.status_code == 400
    assert too_long.json()["detail"] == "body: goes past Upload-Length"
    assert (await patch(client, sv1, url, rest, 7)).status_code == 409
    assert (await head(client, sv1, url)).headers["upload-offset"] == str(len(first))
    assert (await patch(client, sv1, url, rest, len(first))).status_code == 204
    async with db.session(write=False) as session:
        assert (await session.get(MediaObject, sha(data))).size_bytes == len(data)


async def test_a_failed_completion_on_s3_keeps_everything_and_head_finishes_it(
    settings, clock, tokens, db, tmp_path
):
    from litestar.testing import AsyncTestClient

    from media.store import S3Store
    from server.app import create_app
    from tests.media.conftest import rclone_s3

    data = document(6 * MiB, seed=8)
    # An S3 of its own that sees changes made behind its back (no directory cache).
    with rclone_s3(tmp_path / "s3", extra=("--dir-cache-time", "0s")) as (s3, _):
        store = S3Store(s3.client(), s3.new_bucket(), "media", tmp_path / "staging")
        async with AsyncTestClient(app=create_app(settings, clock=clock, store=store)) as client:
            url = (await create(client, tokens["sv1"], data)).headers["location"]
            # A file where the store wants the folder of the object's key: storing fails.
            blocker = s3.root / store.bucket / "media" / "original" / sha(data)[:2]
            blocker.parent.mkdir(parents=True, exist_ok=True)
            blocker.write_bytes(b"in the way")
            last = await patch(client, tokens["sv1"], url, data, 0)
            assert last.status_code == 503, last.text
            assert last.json()["detail"].startswith(f"upload: all {len(data)} bytes are kept")
            row, parts = await state(db, url.rsplit("/", 1)[1])
            assert row.offset_bytes == len(data) and row.completed_at is None
            assert len(parts) == 2
            blocker.unlink()
            done = await head(client, tokens["sv1"], url)
            assert done.status_code == 200, done.text
            assert done.headers["upload-offset"] == str(len(data))
        async with db.session(write=False) as session:
            assert (await session.get(MediaObject, sha(data))).size_bytes == len(data)
        assert multipart_uploads(store) == [] and bucket_objects(store) == {}
