"""One storage suite over both stores: local disk and S3 (rclone serve s3)."""

from __future__ import annotations

import os

import httpx
import pytest

from media.store import FileStore, MediaStore, S3Store, new_temp, object_key, open_store
from tests.media.samples import sha

DATA = b"\xff\xd8\xff" + os.urandom(3000)
SHA = sha(DATA)


async def read(store: MediaStore, key: str, tmp_path) -> bytes:
    dest = tmp_path / "read-back"
    await store.fetch(key, dest)
    return dest.read_bytes()


def staged(store: MediaStore, data: bytes):
    path = new_temp(store.staging_dir)
    path.write_bytes(data)
    return path


async def test_put_file_stores_under_the_key_and_consumes_the_temp(store, tmp_path):
    key = object_key(SHA)
    assert not await store.exists(key)
    temp = staged(store, DATA)
    await store.put_file(key, temp, "image/jpeg")
    assert not temp.exists()
    assert await store.exists(key)
    assert await read(store, key, tmp_path) == DATA


async def test_put_again_replaces_whole(store, tmp_path):
    key = object_key(SHA)
    await store.put_file(key, staged(store, DATA), "image/jpeg")
    await store.put_file(key, staged(store, DATA), "image/jpeg")
    assert await read(store, key, tmp_path) == DATA


async def test_put_bytes_and_delete(store, tmp_path):
    key = object_key(SHA, "small")
    await store.put_bytes(key, b"thumb", "image/jpeg")
    assert await read(store, key, tmp_path) == b"thumb"
    await store.delete(key)
    assert not await store.exists(key)


async def test_fetch_of_a_missing_object_is_a_key_error(store, tmp_path):
    with pytest.raises(KeyError):
        await store.fetch(object_key("0" * 64), tmp_path / "x")


async def test_big_object_goes_through_whole(store, tmp_path):
    """Past boto3's multipart threshold (8 MiB) on S3: still one object, byte for byte."""
    data = os.urandom(9 * 1024 * 1024)
    key = object_key(sha(data))
    await store.put_file(key, staged(store, data), "application/pdf")
    assert await read(store, key, tmp_path) == data


@pytest.mark.parametrize(
    "bad", ["../" + "a" * 61, "A" * 64, "a" * 63, "a" * 64 + "/x", "", "a" * 63 + "\x00"]
)
def test_keys_come_from_a_sha256_only(bad):
    with pytest.raises(ValueError):
        object_key(bad)


def test_keys_are_spread_by_prefix():
    assert object_key(SHA) == f"original/{SHA[:2]}/{SHA}"
    assert object_key(SHA, "screen") == f"screen/{SHA[:2]}/{SHA}"


async def test_read_paths_local_or_signed(store, tmp_path):
    key = object_key(SHA)
    await store.put_file(key, staged(store, DATA), "image/jpeg")
    if isinstance(store, FileStore):
        assert store.local_path(key).read_bytes() == DATA
        assert await store.signed_url(key, 300, "image/jpeg") is None
        return
    assert store.local_path(key) is None
    url = await store.signed_url(key, 300, "image/jpeg")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=300" in url
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
        assert response.status_code == 200 and response.content == DATA
        assert response.headers["content-type"] == "image/jpeg"
        tampered = await http.get(url.replace("X-Amz-Expires=300", "X-Amz-Expires=99999"))
        assert tampered.status_code == 403


async def test_a_crash_before_rename_leaves_no_object(tmp_path):
    """A temp file that never got renamed (the process died) is not an object."""
    store = FileStore(tmp_path / "media")
    staged(store, DATA[:100])  # a half-written temp, as a kill -9 would leave it
    assert not await store.exists(object_key(SHA))
    assert not (tmp_path / "media" / "original").exists()


def test_media_url_chooses_the_store(tmp_path, s3_server):
    fs = open_store((tmp_path / "m").as_uri(), tmp_path / "staging")
    assert isinstance(fs, FileStore) and fs.root == tmp_path / "m"
    s3 = open_store("s3://bucket/some/prefix", tmp_path / "staging", client=s3_server.client())
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    with pytest.raises(ValueError, match="KANCHA_MEDIA_URL"):
        open_store("ftp://x/y", tmp_path)
