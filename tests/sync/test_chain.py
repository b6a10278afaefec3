"""The packet log as hash chains: built by pushes over HTTP, checked by `kancha verify`,
which names the first broken link after a row or a photo is edited behind kancha's back."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from sync.chain import GENESIS
from sync.models import PacketChain
from tests.media.samples import photo
from tests.sync.chain_helpers import (
    behind_kancha,
    kancha,
    kancha_command,
    pushed_history,
    swap_photo,
)


async def _chain(db) -> list[PacketChain]:
    async with db.session(write=False) as session:
        return list(
            await session.scalars(
                select(PacketChain).order_by(PacketChain.device_id, PacketChain.n)
            )
        )


async def test_pushes_chain_every_settled_packet_once_in_order(client, tokens, db):
    history = await pushed_history(client, tokens)
    chain = await _chain(db)
    assert [e.n for e in chain] == [1, 2, 3, 4]
    assert [e.packet_id for e in chain] == history.packet_ids
    assert [e.status for e in chain] == ["accepted", "accepted", "accepted", "rejected"]
    assert chain[1].media == history.photo_sha  # referenced twice, chained once
    assert [e.prev for e in chain] == [GENESIS] + [e.digest for e in chain[:-1]]
    # The digest is the documented preimage's SHA-256 (README: verifying an export).
    first = chain[0]
    lines = ["kancha-chain-1", GENESIS, first.device_id, "1", first.packet_id, "1"]
    lines += [first.body_sha256, first.received_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
    lines += ["accepted", ""]
    assert hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest() == first.digest


async def test_verify_passes_on_an_untouched_store(client, tokens, db, settings, tmp_path):
    history = await pushed_history(client, tokens)
    chain = await _chain(db)
    done = kancha_command(settings, "verify", cwd=tmp_path)  # the command itself, once
    assert done.returncode == 0, done.stderr
    assert "4 chain entries of 1 devices and 1 photos" in done.stdout
    assert f"head\t{history.device_id}\t4\t{chain[-1].digest}" in done.stdout
    scoped = kancha(settings, "verify", "--case", history.case_id, cwd=tmp_path)
    assert scoped.returncode == 0 and f"of case {history.case_id}" in scoped.stdout
    unknown = kancha(settings, "verify", "--case", "no-case-at-all")
    assert unknown.returncode == 2 and "no case and no packet" in unknown.stderr


TAMPERING = {
    # which packet (index in settlement order), the SQL, the field verify must name
    "body": (2, "UPDATE packets SET body = :body WHERE packet_id = :pid", "body"),
    "status": (3, "UPDATE packets SET status = 'accepted' WHERE packet_id = :pid", "status"),
    "deleted": (2, "DELETE FROM packets WHERE packet_id = :pid", "row"),
    "chain_entry": (1, "UPDATE packet_chain SET seq = 9 WHERE packet_id = :pid", "digest"),
}


@pytest.mark.parametrize("how", TAMPERING)
async def test_verify_names_a_row_edited_behind_kanchas_back(
    how, client, tokens, db, settings, tmp_path
):
    history = await pushed_history(client, tokens)
    index, sql, field = TAMPERING[how]
    pid = history.packet_ids[index]
    params = {"pid": pid, "body": b'{"tampered": true}'} if how == "body" else {"pid": pid}
    await behind_kancha(settings.database_url, sql, **params)
    done = kancha(settings, "verify", cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert f"device {history.device_id}, n {index + 1}, packet {pid}: {field} differs" in (
        done.stderr
    )
    assert kancha(settings, "verify", "--case", history.case_id, cwd=tmp_path).returncode == 1


async def test_verify_names_a_photo_swapped_in_the_store(client, tokens, settings, tmp_path):
    history = await pushed_history(client, tokens)
    swap_photo(settings, history.photo_sha, photo(seed=8))
    done = kancha(settings, "verify", cwd=tmp_path)
    assert done.returncode == 1
    assert f"n 2, packet {history.packet_ids[1]}: photo differs ({history.photo_sha}" in (
        done.stderr
    )
