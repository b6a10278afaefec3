"""A tus upload whose last PATCH brought every byte but could not be stored (here the
disk store cannot make its folder) keeps its offset: 503, not a restart from 0, and the
upload is finished by a later HEAD once storing works again."""

from __future__ import annotations

from media.models import MediaObject
from media.store import object_key
from tests.media.helpers import create, head, patch
from tests.media.samples import photo, sha


async def test_a_failed_completion_keeps_the_offset_and_finishes_later(
    client, tokens, db, settings
):
    data = photo(seed=51)
    url = (await create(client, tokens["sv1"], data)).headers["location"]
    media_root = settings.data_path / "media"
    blocker = (media_root / object_key(sha(data))).parent
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"a file where the store wants a folder")

    last = await patch(client, tokens["sv1"], url, data, 0)
    assert last.status_code == 503, last.text
    assert last.json()["detail"].startswith(f"upload: all {len(data)} bytes are kept")
    still = await head(client, tokens["sv1"], url)
    assert still.status_code == 503  # not "offset 0": nothing to send again
    async with db.session(write=False) as session:
        assert await session.get(MediaObject, sha(data)) is None

    blocker.unlink()
    done = await head(client, tokens["sv1"], url)
    assert done.status_code == 200, done.text
    assert done.headers["upload-offset"] == str(len(data))
    assert (media_root / object_key(sha(data))).read_bytes() == data
    async with db.session(write=False) as session:
        assert (await session.get(MediaObject, sha(data))).size_bytes == len(data)
    assert list((settings.data_path / "uploads").glob("*.part")) == []
