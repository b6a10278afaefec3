"""A live `kancha serve` caps the request head: an oversized header is answered 431 and the
connection closed, and the server goes on answering normal requests."""

from __future__ import annotations

import socket

import httpx

from server.http import MAX_HEAD_BYTES


def raw_exchange(url: str, request: bytes) -> bytes:
    """Send `request` on a fresh connection, read until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):  # b"" once the server has closed
            received += chunk
    return received


def test_megabyte_header_is_431_and_closes(server_process):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1024 * 1024 + b"\r\n\r\n"
    answer = raw_exchange(server_process.url, request)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in answer.lower()
    assert httpx.get(f"{server_process.url}/health").status_code == 200


def test_many_headers_count_together(server_process):
    headers = {f"X-H{i}": "v" * 1000 for i in range(MAX_HEAD_BYTES // 1000 + 1)}
    response = httpx.get(f"{server_process.url}/health", headers=headers)
    assert response.status_code == 431
    assert httpx.get(f"{server_process.url}/health").status_code == 200


def test_headers_under_the_limit_are_served(server_process):
    with httpx.Client(base_url=server_process.url) as client:  # one kept-alive connection
        for _ in range(3):
            big = {"X-Big": "a" * (MAX_HEAD_BYTES - 1024)}
            assert client.get("/health", headers=big).status_code == 200
