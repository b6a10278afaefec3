"""tus HEAD of a fresh upload whose bytes the server already holds: the upload is completed
on the spot (the one writer queued for, on SQLite too) and the offset says it is done."""

from __future__ import annotations

from media.models import TusUpload
from tests.media.helpers import create, head, upload
from tests.media.samples import photo


async def test_head_of_a_new_upload_of_held_bytes_completes_it(client, tokens, db):
    data = photo(seed=41)
    await upload(client, tokens["sv1"], data)
    created = await create(client, tokens["sv1"], data)
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    first = await head(client, tokens["sv1"], url)
    assert first.status_code == 200, first.text
    assert first.headers["upload-offset"] == str(len(data))
    async with db.session(write=False) as session:
        row = await session.get(TusUpload, url.rsplit("/", 1)[1])
    assert row is not None and row.completed_at is not None
    again = await head(client, tokens["sv1"], url)
    assert again.status_code == 200 and again.headers["upload-offset"] == str(len(data))
