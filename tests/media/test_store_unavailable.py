"""A media store that cannot be used: `kancha serve` refuses to start with one line naming
the store and the error; at run time a PUT answers 503 naming the store, with Retry-After,
and leaves no temp file. Real failures only: a missing bucket, wrong keys, a stopped S3
server, and a full disk (a 1 MiB tmpfs mounted for the test)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from media.store import FileStore, S3Store
from server.app import create_app
from tests.live import clean_env, run_kancha, running_server
from tests.media.conftest import ACCESS_KEY, SECRET_KEY, S3Server, rclone_s3
from tests.media.samples import photo, sha


def s3_env(server: S3Server, bucket: str, secret: str = SECRET_KEY, **extra: str) -> dict:
    return {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "KANCHA_MEDIA_URL": f"s3://{bucket}/media",
        **extra,
    }


def refused_at_start(tmp_path: Path, env: dict) -> str:
    result = run_kancha("serve", "--port", "1", env=clean_env(**env), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def leftovers(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def assert_503_naming(response: httpx.Response, store: str, reason: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    detail = response.json()["detail"]
    assert detail.startswith(f"media store {store}: "), detail
    assert reason in detail, detail


# -- at start ---------------------------------------------------------------------------------


def test_missing_bucket_refuses_to_start(tmp_path, s3_server):
    line = refused_at_start(tmp_path, s3_env(s3_server, "kancha-no-such-bucket"))
    assert line == (
        "kancha: KANCHA_MEDIA_URL: media store s3://kancha-no-such-bucket/media: "
        "the bucket does not exist"
    )


def test_wrong_keys_refuse_to_start(tmp_path, s3_server):
    bucket = s3_server.new_bucket()
    line = refused_at_start(tmp_path, s3_env(s3_server, bucket, secret="not-the-secret"))
    assert line.startswith(f"kancha: KANCHA_MEDIA_URL: media store s3://{bucket}/media: ")
    assert "access denied" in line or "secret key" in line, line


def test_right_bucket_and_keys_start(tmp_path, s3_server):
    env = s3_env(s3_server, s3_server.new_bucket(), KANCHA_DATA_DIR=str(tmp_path / "data"))
    with running_server(env, tmp_path) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200


# -- at run time: S3 ------------------------------------------------------------------------


async def test_bucket_deleted_after_start_is_503(settings, clock, tokens, s3_server, tmp_path):
    bucket = s3_server.new_bucket()
    store = S3Store(s3_server.client(), bucket, "media", tmp_path / "staging")
    app = create_app(settings, clock=clock, store=store)
    async with AsyncTestClient(app=app) as client:
        s3_server.client().delete_bucket(Bucket=bucket)
        data = photo()
        response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
        assert_503_naming(response, f"s3://{bucket}/media", "the bucket does not exist")
    assert leftovers(tmp_path / "staging") == []


async def test_s3_server_gone_is_503(settings, clock, tokens, tmp_path):
    with rclone_s3(tmp_path / "s3") as (server, proc):
        bucket = server.new_bucket()
        store = S3Store(server.client(), bucket, "media", tmp_path / "staging")
        app = create_app(settings, clock=clock, store=store)
        async with AsyncTestClient(app=app) as client:
            await store.check()  # reachable at start
            proc.terminate()
            proc.wait(timeout=30)
            data = photo()
            response = await client.put(
                f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"]
            )
            assert_503_naming(response, f"s3://{bucket}/media", "Could not connect")
    assert leftovers(tmp_path / "staging") == []


# -- disk full ------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A 1 MiB tmpfs, filled up: (mount point, the filler file)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs for the disk-full test: {done.stderr!r}")
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr!r}")
    filler = mount / "filler"
    try:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield mount, filler
    finally:
        subprocess.run(["umount", str(mount)], check=True)


async def test_disk_full_is_503_then_recovers(settings, clock, tokens, full_disk):
    mount, filler = full_disk
    media = mount / "media"
    app = create_app(settings, clock=clock, store=FileStore(media))
    data = photo()
    async with AsyncTestClient(app=app) as client:
        response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
        assert_503_naming(response, media.as_uri(), "No space left on device")
        assert [p for p in leftovers(mount) if p != filler] == []

        filler.unlink()  # space is freed: the same PUT now goes through
        again = await client.put(f"/v1/media/{sha(data)}", content=data, headers=tokens["sv1"])
        assert again.status_code == 201, again.text


def test_full_disk_refuses_to_start(tmp_path, full_disk):
    mount, _ = full_disk
    line = refused_at_start(
        tmp_path, {"KANCHA_DATA_DIR": str(tmp_path / "data"), "KANCHA_MEDIA_URL": mount.as_uri()}
    )
    assert line == (
        f"kancha: KANCHA_MEDIA_URL: media store {mount.as_uri()}: No space left on device"
    )
