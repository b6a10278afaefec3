"""`kancha verify`: recompute the devices' hash chains from the stored rows and photos.

Each chain entry must still hash to its digest and follow the one before it (n gapless
from 1, `prev` the previous digest); the packet row it covers must still hold what was
hashed (seq, body, time of receipt, status, photos); no packet row may be outside a
chain; and every referenced photo held by the store must still hash to its SHA-256 (a
file swapped in the store behind kancha's back). The first difference is named: device,
n, packet_id and the field.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, Packet
from media.models import MediaObject
from media.store import MediaStore, object_key
from sync.chain import GENESIS, media_of, preimage, stamp
from sync.models import PacketChain


@dataclass(frozen=True)
class Broken:
    device_id: str
    n: int | None  # None: a packet row no chain entry covers
    packet_id: str
    field: str
    detail: str

    def __str__(self) -> str:
        at = f"n {self.n}" if self.n is not None else "not in the chain"
        return (
            f"broken link: device {self.device_id}, {at}, packet {self.packet_id}: "
            f"{self.field} differs ({self.detail})"
        )


@dataclass
class Verified:
    devices: int = 0
    entries: int = 0
    photos: int = 0
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    broken: list[Broken] = field(default_factory=list)

    @property
    def first(self) -> Broken | None:
        return self.broken[0] if self.broken else None


class NoSuchCase(LookupError):
    def __str__(self) -> str:
        return f"--case: no case and no packet under {self.args[0]!r}"


async def devices_of_case(session: AsyncSession, case_id: str) -> list[str]:
    """The devices that sent the case's packets (also of a case id no case has: a packet
    for an unknown case is kept, rejected)."""
    rows = await session.scalars(
        select(Packet.device_id).where(Packet.case_id == case_id).distinct()
    )
    devices = sorted(rows)
    if not devices and await session.get(Case, case_id) is None:
        raise NoSuchCase(case_id)
    return devices


async def verify_chains(
    session: AsyncSession, store: MediaStore, device_ids: list[str] | None = None
) -> Verified:
    """Check the chains of `device_ids` (default: every device with packets or entries)."""
    if device_ids is None:
        found = set(await session.scalars(select(Packet.device_id).distinct()))
        found |= set(await session.scalars(select(PacketChain.device_id).distinct()))
        device_ids = sorted(found)
    out = Verified()
    photos: dict[str, tuple[str, int, str]] = {}  # sha256 -> first entry referring to it
    for device_id in device_ids:
        out.devices += 1
        await _verify_device(session, device_id, out, photos)
    await _verify_photos(session, store, photos, out)
    return out


async def _verify_device(
    session: AsyncSession, device_id: str, out: Verified, photos: dict
) -> None:
    """One device's chain, entry by entry with the packet row it covers (streamed: a
    device's whole log is never held at once), then the rows no entry covers."""
    entries = (
        select(PacketChain)
        .add_columns(
            Packet.packet_id.label("row_packet_id"),
            Packet.device_id.label("row_device_id"),
            Packet.seq.label("row_seq"),
            Packet.body.label("row_body"),
            Packet.body_format.label("row_body_format"),
            Packet.received_at.label("row_received_at"),
            Packet.status.label("row_status"),
        )
        .outerjoin(Packet, Packet.packet_id == PacketChain.packet_id)
        .where(PacketChain.device_id == device_id)
        .order_by(PacketChain.n)
    )
    n, prev = 0, GENESIS
    async for e, *columns in await session.stream(entries.execution_options(yield_per=500)):
        out.entries += 1
        row = dict(zip(_ROW, columns, strict=True))

        def broken(name: str, detail: str, e: PacketChain = e) -> None:
            out.broken.append(Broken(device_id, e.n, e.packet_id, name, detail))

        media = e.media.split(",") if e.media else []
        if e.n != n + 1:
            broken("n", f"entry {n + 1} is missing, the chain goes on at {e.n}")
        if e.prev != prev:
            broken("prev", f"entry says {e.prev}, previous digest is {prev}")
        recomputed = hashlib.sha256(
            preimage(
                e.prev,
                e.device_id,
                e.n,
                e.packet_id,
                e.seq,
                e.body_sha256,
                stamp(e.received_at),
                e.status,
                media,
            )
        ).hexdigest()
        if recomputed != e.digest:
            broken("digest", f"entry hashes to {recomputed}, stored {e.digest}")
        if row["packet_id"] is None:
            broken("row", "the packet row is gone (deleted)")
        else:
            for name, now, then in (
                ("device_id", row["device_id"], e.device_id),
                ("seq", str(row["seq"]), str(e.seq)),
                ("body", hashlib.sha256(row["body"]).hexdigest(), e.body_sha256),
                ("received_at", stamp(row["received_at"]), stamp(e.received_at)),
                ("status", row["status"], e.status),
                ("media", ",".join(media_of(row["body"], row["body_format"])), e.media),
            ):
                if now != then:
                    broken(name, f"row has {_short(now)}, chained {_short(then)}")
        for sha in media:
            photos.setdefault(sha, (device_id, e.n, e.packet_id))
        n, prev = e.n, e.digest
    if n:
        out.heads[device_id] = (n, prev)
    outside = await session.scalars(
        select(Packet.packet_id)
        .where(Packet.device_id == device_id)
        .where(~exists().where(PacketChain.packet_id == Packet.packet_id))
        .order_by(Packet.packet_id)
    )
    for packet_id in outside:
        out.broken.append(
            Broken(device_id, None, packet_id, "row", "a packet row no chain entry covers")
        )


_ROW = ("packet_id", "device_id", "seq", "body", "body_format", "received_at", "status")


async def _verify_photos(
    session: AsyncSession, store: MediaStore, photos: dict, out: Verified
) -> None:
    """Re-hash the stored bytes of every referenced photo that is recorded as held or is
    in the store all the same (its row deleted would otherwise hide a swapped file); a
    recorded photo the store lacks is a difference too."""
    ordered = sorted(photos, key=lambda s: photos[s][:2])
    with tempfile.TemporaryDirectory(prefix="kancha-verify-") as tmp:
        for start in range(0, len(ordered), PHOTO_BATCH):
            batch = ordered[start : start + PHOTO_BATCH]
            held = set(
                await session.scalars(
                    select(MediaObject.sha256).where(MediaObject.sha256.in_(batch))
                )
            )
            for sha in batch:
                if sha not in held and not await store.exists(object_key(sha)):
                    continue  # not received yet
                out.photos += 1
                actual = await _stored_sha256(store, sha, Path(tmp) / sha)
                if actual != sha:
                    device_id, n, packet_id = photos[sha]
                    out.broken.append(
                        Broken(
                            device_id,
                            n,
                            packet_id,
                            "photo",
                            f"{sha}: stored bytes hash to {actual}",
                        )
                    )


PHOTO_BATCH = 500


async def _stored_sha256(store: MediaStore, sha: str, dest: Path) -> str:
    key = object_key(sha)
    local = store.local_path(key)
    try:
        if local is None:
            await store.fetch(key, dest)
            local = dest
        return await anyio.to_thread.run_sync(_file_sha256, local)
    except (OSError, LookupError) as exc:
        return f"nothing (cannot read it: {exc!r})"
    finally:
        await anyio.to_thread.run_sync(_remove, dest)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _short(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "..."
