"""`kancha verify` re-hashes photos in an S3 store too (fetched back, not trusted): a file
swapped in the bucket behind kancha's back is named."""

from __future__ import annotations

from media.store import object_key
from sync.verify import verify_chains
from tests.media.samples import photo
from tests.sync.chain_helpers import pushed_history


async def test_a_photo_swapped_in_the_bucket_is_named(s3_client, s3_store, tokens, db):
    history = await pushed_history(s3_client, tokens)
    async with db.session(write=False) as session:
        clean = await verify_chains(session, s3_store)
    assert clean.broken == [] and clean.photos == 1 and clean.entries == 4
    await s3_store.put_bytes(object_key(history.photo_sha), photo(seed=8), "image/jpeg")
    async with db.session(write=False) as session:
        swapped = await verify_chains(session, s3_store)
    (broken,) = swapped.broken
    assert (broken.n, broken.packet_id, broken.field) == (2, history.packet_ids[1], "photo")
    assert broken.detail.startswith(f"{history.photo_sha}: stored bytes hash to ")
