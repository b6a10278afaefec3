"""The stock tus client (tuspy) against a live server: a whole upload, and one cut off
mid-chunk, the server killed -9, then resumed from the offset the server reports."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import httpx
from tusclient.client import TusClient

from tests.media.samples import photo, sha

CHUNK = 64 * 1024


def sample(tmp_path, seed: int):
    data = photo(1600, 1200, seed=seed, noise=True)
    assert len(data) > 5 * CHUNK
    path = tmp_path / f"photo-{seed}.jpg"
    path.write_bytes(data)
    return data, path


def server_offset(upload_url: str, headers: dict) -> int:
    response = httpx.head(upload_url, headers={**headers, "Tus-Resumable": "1.0.0"})
    assert response.status_code == 200, response.text
    return int(response.headers["upload-offset"])


def send_half_and_hang_up(upload_url: str, headers: dict, offset: int, body: bytes, sent: int):
    """A PATCH whose connection dies mid-body, as on one bar of signal."""
    url = urlparse(upload_url)
    head = (
        f"PATCH {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: {headers['Authorization']}\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port)) as conn:
        conn.sendall(head.encode() + body[:sent])
        time.sleep(0.2)  # let the bytes reach the server before the line drops
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def read_back(base: str, headers: dict, sha256: str) -> httpx.Response:
    return httpx.get(f"{base}/v1/media/{sha256}", headers=headers)


def test_tuspy_uploads_a_photo_in_checksummed_chunks(live_server, tmp_path):
    base, tokens = live_server
    data, path = sample(tmp_path, seed=41)
    client = TusClient(f"{base}/v1/uploads", headers=tokens["sv1"])
    uploader = client.uploader(
        file_path=str(path),
        chunk_size=CHUNK,
        metadata={"sha256": sha(data), "filename": path.name},
        upload_checksum=True,  # sha1, the algorithm tus requires
    )
    uploader.upload()
    assert uploader.offset == len(data)
    assert server_offset(uploader.url, tokens["sv1"]) == len(data)
    stored = read_back(base, tokens["rev"], sha(data))
    assert stored.status_code == 200 and stored.content == data


def test_tuspy_resumes_a_cut_upload_after_a_kill_9(server_process, tokens, tmp_path):
    base = server_process.url
    data, path = sample(tmp_path, seed=42)
    metadata = {"sha256": sha(data), "filename": path.name}
    client = TusClient(f"{base}/v1/uploads", headers=tokens["sv1"])
    first = client.uploader(file_path=str(path), chunk_size=CHUNK, metadata=metadata)
    first.upload_chunk()
    first.upload_chunk()
    assert first.offset == 2 * CHUNK
    upload_url = first.url
    send_half_and_hang_up(
        upload_url, tokens["sv1"], 2 * CHUNK, data[2 * CHUNK : 4 * CHUNK], sent=CHUNK + 1000
    )
    server_process.kill()  # kill -9: nothing acknowledged may be lost
    server_process.start()
    offset = server_offset(upload_url, tokens["sv1"])
    # Everything acknowledged is there, and what arrived of the cut chunk may be too.
    assert 2 * CHUNK <= offset <= 3 * CHUNK + 1000
    resumed = client.uploader(file_path=str(path), chunk_size=CHUNK, url=upload_url)
    assert resumed.offset == offset  # the stock client asked the server where to go on
    resumed.upload()
    assert server_offset(upload_url, tokens["sv1"]) == len(data)
    stored = read_back(base, tokens["rev"], sha(data))
    assert stored.status_code == 200 and stored.content == data
