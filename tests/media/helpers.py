"""Helpers of the media tests: upload, push a photo packet, wait for the worker."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable

from media.models import ThumbnailJob
from tests.factories import new_id, packet, push, push_body
from tests.media.samples import sha


async def upload(client, headers, data: bytes) -> dict:
    response = await client.put(f"/v1/media/{sha(data)}", content=data, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def push_photo(
    client, headers, case_id: str, shas: list[str], category: str = "damage", seq: int = 1
) -> dict:
    sent = packet(case_id, seq, "photo", media=shas, data={"category": category})
    response = await push(client, headers, push_body(new_id(), [sent]))
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "accepted", response.text
    return response.json()


async def eventually(check: Callable[[], Awaitable[bool]], tries: int = 800) -> None:
    """Wait for background work (the thumbnail worker): bounded, not a timed assertion."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("background work did not finish")


def job_done(db, sha256: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with db.session(write=False) as session:
            job = await session.get(ThumbnailJob, sha256)
            return job is not None and job.status in ("done", "failed")

    return check


TUS = {"Tus-Resumable": "1.0.0"}


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def create(client, headers, data: bytes, **extra: str):
    response = await client.post(
        "/v1/uploads",
        headers={
            **headers,
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": meta(sha256=sha(data), filename="scene.jpg"),
            **extra,
        },
    )
    return response


async def patch(client, headers, url: str, body: bytes, offset: int, **extra: str):
    return await client.patch(
        url,
        content=body,
        headers={
            **headers,
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **extra,
        },
    )


async def head(client, headers, url: str):
    return await client.head(url, headers={**headers, **TUS})
