"""Getting photos to the server: a plain PUT, or tus with a cut-off midway and a resume."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

_TUS_THREADS = ThreadPoolExecutor(16, thread_name_prefix="tus")  # tuspy blocks


class UploadUnavailable(Exception):
    """The server has no such endpoint (404/405): that part of the contract is missing."""


async def put_media(http: httpx.AsyncClient, headers: dict, sha: str, data: bytes) -> int:
    response = await http.put(
        f"/v1/media/{sha}", content=data, headers={**headers, "Content-Type": "image/jpeg"}
    )
    if response.status_code in (404, 405):
        raise UploadUnavailable(f"PUT /v1/media: {response.status_code}")
    return response.status_code


def _tus_cut_and_resume(base_url: str, headers: dict, sha: str, data: bytes) -> int:
    """Send the first half, drop the uploader as a lost connection would, then let a new
    one ask the server for its offset and finish. Returns the offset it resumed from."""
    tus = tus_client.TusClient(f"{base_url}/v1/uploads", headers=dict(headers))
    metadata = {"sha256": sha, "filename": f"{sha[:16]}.jpg"}
    chunk = max(1, (len(data) + 1) // 2)
    first = tus.uploader(file_stream=io.BytesIO(data), chunk_size=chunk, metadata=metadata)
    first.upload(stop_at=max(1, len(data) // 2))
    url = first.url
    del first  # the connection is gone; only the upload URL survives, as a tablet keeps it
    second = tus.uploader(file_stream=io.BytesIO(data), url=url, chunk_size=chunk)
    resumed_from = second.offset
    second.upload()
    return resumed_from


async def tus_media(base_url: str, headers: dict, sha: str, data: bytes) -> int:
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _TUS_THREADS, _tus_cut_and_resume, base_url, headers, sha, data
        )
    except TusCommunicationError as exc:
        if exc.status_code in (404, 405):
            raise UploadUnavailable(f"tus /v1/uploads: {exc.status_code}") from None
        raise
