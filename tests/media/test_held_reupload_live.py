"""Re-sending a photo the server already holds, against a live server: a plain client
that sends the whole body hears 200 (the body is read and dropped, the connection is not
reset under it); a client asking `Expect: 100-continue` hears 200 without sending it, and
the connection is closed after (a client reusing it would otherwise wait for ever)."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import urllib.request
from urllib.parse import urlparse

import httpx
import pytest
from PIL import Image

from tests.media.samples import sha


def big_png() -> bytes:
    """About 9 MB that does not compress: far more than the sockets buffer."""
    image = Image.frombytes("RGB", (2000, 1500), os.urandom(2000 * 1500 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def test_a_held_photo_sent_again_in_full_gets_200(live_server):
    url, tokens = live_server
    data = big_png()
    assert len(data) > 8 * 1024 * 1024
    target = f"{url}/v1/media/{sha(data)}"
    first = httpx.put(target, content=data, headers=tokens["sv1"], timeout=120)
    assert first.status_code == 201, first.text

    again = httpx.put(target, content=data, headers=tokens["sv1"], timeout=120)
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False

    request = urllib.request.Request(target, data=data, method="PUT", headers=tokens["sv1"])
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200
        assert json.loads(response.read())["sha256"] == sha(data)


def _answer_without_sending_the_body(url: str, head: str) -> tuple[bytes, bytes]:
    """Send a request head asking `Expect: 100-continue`, never the body: (the answer's
    head, what came after it until the server closed the connection)."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=60) as conn:
        conn.sendall(head.replace("HOST", parsed.netloc).encode())
        answer = b""
        while b"\r\n\r\n" not in answer:  # the body is never sent
            chunk = conn.recv(65536)
            assert chunk, f"connection closed before an answer: {answer!r}"
            answer += chunk
        while chunk := conn.recv(65536):  # the server closes it: recv ends, no timeout
            answer += chunk
    head_bytes, _, rest = answer.partition(b"\r\n\r\n")
    return head_bytes, rest


def test_a_held_photo_with_expect_100_continue_is_answered_before_the_body(live_server):
    url, tokens = live_server
    data = big_png()
    target = f"{url}/v1/media/{sha(data)}"
    assert httpx.put(target, content=data, headers=tokens["sv1"], timeout=120).status_code == 201
    head, body = _answer_without_sending_the_body(
        url,
        f"PUT /v1/media/{sha(data)} HTTP/1.1\r\nHost: HOST\r\n"
        f"Authorization: {tokens['sv1']['Authorization']}\r\n"
        f"Content-Length: {len(data)}\r\nExpect: 100-continue\r\n\r\n",
    )
    lines = head.split(b"\r\n")
    assert lines[0].startswith(b"HTTP/1.1 200"), head
    assert b"connection: close" in [line.lower() for line in lines[1:]], head
    assert json.loads(body)["created"] is False


def test_a_refusal_before_the_body_closes_the_connection_too(live_server):
    url, _ = live_server
    head, _ = _answer_without_sending_the_body(
        url,
        f"PUT /v1/media/{'0' * 64} HTTP/1.1\r\nHost: HOST\r\n"
        "Authorization: Bearer not-a-token\r\n"
        "Content-Length: 4000000\r\nExpect: 100-continue\r\n\r\n",
    )
    lines = head.split(b"\r\n")
    assert lines[0].startswith(b"HTTP/1.1 401"), head
    assert b"connection: close" in [line.lower() for line in lines[1:]], head


def test_curl_sends_held_photos_again_in_one_run(live_server, tmp_path):
    """curl, a stock client, asks `Expect: 100-continue` for bodies over 1 MiB and reuses
    its connection between the files of one run: before the server closed a connection
    whose body it had declined, every second file timed out."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    url, tokens = live_server
    args = [curl, "-sS", "--max-time", "20", "-w", "%{http_code}\n"]
    args += ["-H", f"Authorization: {tokens['sv1']['Authorization']}"]
    for i in range(3):
        path = tmp_path / f"photo-{i}.png"
        path.write_bytes(big_png())
        args += ["-o", "/dev/null", "-T", str(path), f"{url}/v1/media/{sha(path.read_bytes())}"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert first.stdout.split() == ["201"] * 3, first.stderr
    again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["200"] * 3
