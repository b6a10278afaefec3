"""tus on S3 behind a load balancer: two real servers on two ports over one database and
one S3 (`rclone serve s3`), each with its own data folder (nothing local is shared). An
upload begun on A with the stock client (tuspy), A killed -9 mid-PATCH, is resumed on B
and lands byte for byte; B's HEAD reports what A acknowledged. On SQLite (one machine,
one process) the same with one server killed -9 and started again. One request at a time
per upload: while A holds it mid-PATCH, a PATCH or DELETE on B is 423."""

from __future__ import annotations

import functools
import hashlib
import socket
import struct
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from tusclient.client import TusClient

from tests.live import ServerProcess
from tests.media.samples import photo, sha
from tests.media.test_store_unavailable import s3_env

MiB = 1024 * 1024
CHUNK = 2 * MiB + 333  # odd-sized PATCHes: parts of 5 MiB are cut across them


@functools.cache
def big_jpeg(seed: int) -> bytes:
    return photo(4800, 3600, noise=True, quality=98, seed=seed)  # ~10 MiB, made once


def big_photo(tmp_path: Path, seed: int) -> tuple[bytes, Path]:
    data = big_jpeg(seed)
    assert len(data) > 4 * CHUNK + MiB  # parts, a tail, and bytes left after the kill
    path = tmp_path / f"photo-{seed}.jpg"
    path.write_bytes(data)
    return data, path


def server(s3_server, bucket: str, database_url: str, tmp_path: Path, name: str):
    env = s3_env(
        s3_server,
        bucket,
        KANCHA_DATA_DIR=str(tmp_path / name),
        KANCHA_DATABASE_URL=database_url,
    )
    return ServerProcess(env, tmp_path)


class HeldPatch:
    """A PATCH whose body is only partly sent: its server holds the upload meanwhile."""

    def __init__(self, upload_url: str, headers: dict, offset: int, body: bytes, sent: int):
        url = urlparse(upload_url)
        head = (
            f"PATCH {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: {headers['Authorization']}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.conn = socket.create_connection((url.hostname, url.port))
        self.conn.sendall(head.encode() + body[:sent])

    def close(self) -> None:
        self.conn.close()

    def hang_up(self) -> None:
        """Drop the line (a reset), as on one bar of signal."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.conn.close()


def patching(headers: dict, offset: int) -> dict:
    return {
        **headers,
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
    }


def probe(upload_url: str, headers: dict) -> int:
    """A PATCH at an offset no upload is at: 409 if the upload is free, 423 if held."""
    response = httpx.patch(upload_url, content=b"x", headers=patching(headers, 10**12))
    assert response.status_code in (409, 423), response.text
    return response.status_code


def until(upload_url: str, headers: dict, status: int) -> None:
    """Bounded wait until the upload is held (423) or free (409): not a timed assertion."""
    for _ in range(400):
        if probe(upload_url, headers) == status:
            return
    pytest.fail(f"the upload never answered {status}")


def head_offset(upload_url: str, headers: dict) -> int:
    response = httpx.head(upload_url, headers={**headers, "Tus-Resumable": "1.0.0"})
    assert response.status_code == 200, response.text
    return int(response.headers["upload-offset"])


def on(server_: ServerProcess, upload_url: str) -> str:
    return server_.url + urlparse(upload_url).path


def test_an_upload_begun_on_a_killed_server_is_finished_on_another(
    s3_server, database_url, tokens, tmp_path
):
    sv1 = tokens["sv1"]
    data, path = big_photo(tmp_path, seed=61)
    bucket = s3_server.new_bucket()
    a = server(s3_server, bucket, database_url, tmp_path, "a")
    sqlite = database_url.startswith("sqlite")
    # SQLite is one machine, one process: there B is A started again after the kill.
    b = a if sqlite else server(s3_server, bucket, database_url, tmp_path, "b")
    a.start()
    try:
        if not sqlite:
            b.start()
        metadata = {"sha256": sha(data), "filename": path.name}
        first = TusClient(f"{a.url}/v1/uploads", headers=sv1).uploader(
            file_path=str(path), chunk_size=CHUNK, metadata=metadata
        )
        for _ in range(3):
            first.upload_chunk()
        assert first.offset == 3 * CHUNK
        cut = HeldPatch(first.url, sv1, first.offset, data[first.offset :][:CHUNK], sent=MiB)
        until(first.url, sv1, 423)
        time.sleep(0.2)  # let the bytes reach the server before the line drops
        cut.hang_up()
        until(first.url, sv1, 409)  # A has settled the cut PATCH...
        acked = head_offset(first.url, sv1)
        assert first.offset <= acked <= first.offset + MiB  # ...keeping what arrived of it
        held = HeldPatch(first.url, sv1, acked, data[acked : acked + CHUNK], sent=MiB)
        until(first.url, sv1, 423)  # A holds the upload mid-PATCH, and B knows it:
        other = on(b, first.url)
        second = httpx.patch(other, content=data[acked : acked + MiB], headers=patching(sv1, acked))
        assert second.status_code == 423, second.text
        assert second.json()["detail"] == "upload: another request is using this upload"
        assert httpx.delete(other, headers={**sv1, "Tus-Resumable": "1.0.0"}).status_code == 423
        assert head_offset(other, sv1) == acked  # HEAD is never held up
        a.kill()  # kill -9
        held.close()
        if sqlite:
            b.start()
        resume_url = on(b, first.url)
        assert head_offset(resume_url, sv1) == acked  # what A acknowledged, from B
        until(resume_url, sv1, 409)  # the dead server's lock went with it
        resumed = TusClient(f"{b.url}/v1/uploads", headers=sv1).uploader(
            file_path=str(path), chunk_size=CHUNK, url=resume_url
        )
        assert resumed.offset == acked  # the stock client asked B where to go on
        resumed.upload()
        assert head_offset(resume_url, sv1) == len(data)
        got = httpx.get(f"{b.url}/v1/media/{sha(data)}", headers=tokens["rev"])
        assert got.status_code == 307, got.text  # S3: a presigned URL
        body = httpx.get(got.headers["location"]).content
        assert hashlib.sha256(body).hexdigest() == sha(data) and body == data
    finally:
        a.stop()
        b.stop()
