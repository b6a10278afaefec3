"""tus headers refused where they are read, before any byte is taken: a key given twice
in Upload-Metadata at creation, a malformed Upload-Checksum (400, not 460) at PATCH."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import func, select

from media.models import TusUpload
from tests.media.helpers import TUS, create, head, meta, patch
from tests.media.samples import photo, sha


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("key", ["sha256", "filename"])
async def test_a_metadata_key_given_twice_is_refused_at_creation(client, tokens, db, key):
    data = photo(seed=71)
    other = {"sha256": sha(b"other"), "filename": "other.jpg"}[key]
    header = f"{meta(sha256=sha(data), filename='scene.jpg')},{key} {b64(other)}"
    response = await client.post(
        "/v1/uploads",
        headers={
            **tokens["sv1"],
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": header,
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == f"Upload-Metadata: {key}: given more than once"
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(TusUpload)) == 0


@pytest.mark.parametrize(
    "value",
    ["", "sha1", "sha1 ", "sha256 " + base64.b64encode(b"short").decode()],
    ids=["empty", "algorithm-only", "algorithm-and-space", "digest-of-the-wrong-length"],
)
async def test_a_malformed_checksum_is_400_and_takes_nothing(client, tokens, value):
    data = photo(seed=72)
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    response = await patch(client, tokens["sv1"], url, data[:500], 0, **{"Upload-Checksum": value})
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("Upload-Checksum:")
    assert (await head(client, tokens["sv1"], url)).headers["upload-offset"] == "0"
    digest = base64.b64encode(hashlib.sha1(data[:500]).digest()).decode()
    good = await patch(
        client, tokens["sv1"], url, data[:500], 0, **{"Upload-Checksum": f"sha1 {digest}"}
    )
    assert good.status_code == 204
