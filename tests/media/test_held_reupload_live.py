"""Re-sending a photo the server already holds, against a live server: a plain client
that sends the whole body hears 200 (the body is read and dropped, the connection is not
reset under it); a client asking `Expect: 100-continue` hears 200 without sending it."""

from __future__ import annotations

import io
import json
import os
import socket
import urllib.request
from urllib.parse import urlparse

import httpx
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


def test_a_held_photo_with_expect_100_continue_is_answered_before_the_body(live_server):
    url, tokens = live_server
    data = big_png()
    target = f"{url}/v1/media/{sha(data)}"
    assert httpx.put(target, content=data, headers=tokens["sv1"], timeout=120).status_code == 201
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=60) as conn:
        conn.sendall(
            (
                f"PUT /v1/media/{sha(data)} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
                f"Authorization: {tokens['sv1']['Authorization']}\r\n"
                f"Content-Length: {len(data)}\r\nExpect: 100-continue\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:  # the body is never sent
            chunk = conn.recv(65536)
            assert chunk, f"connection closed before an answer: {answer!r}"
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 200"), answer
