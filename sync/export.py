"""`kancha export --case ID DIR`: a case as files a third party can check without kancha.

DIR gets `case.json` (the case, its packets with their exact stored bodies in base64, its
timings), `photos/` (each referenced photo the store holds, named by its SHA-256) and
`chain.jsonl` (every entry of the chains of the devices that sent the case's packets, from
n = 1 up to the case's last entry on each). The README's "Verifying an export" recomputes
it with sha256sum and python3's hashlib; sync/chain.py `preimage` is the format.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, CaseTiming, Packet
from media.models import MediaObject
from media.store import MediaStore, object_key
from sync.chain import stamp
from sync.models import PacketChain

FORMAT = "kancha-export-1"


class ExportError(Exception):
    """Why nothing was exported (no such case, DIR not empty)."""


@dataclass(frozen=True)
class Exported:
    packets: int
    entries: int
    photos: int
    missing_photos: int


def _plain(value: Any) -> Any:
    if hasattr(value, "astimezone"):
        return stamp(value)
    return value


def _columns(row: Any) -> dict[str, Any]:
    return {c.name: _plain(getattr(row, c.key)) for c in row.__table__.columns}


async def export_case(
    session: AsyncSession, store: MediaStore, case_id: str, out: Path
) -> Exported:
    case = await session.get(Case, case_id)
    if case is None:
        raise ExportError(f"--case: no case {case_id!r}")
    _check_empty(out)
    packets = (
        await session.execute(
            select(Packet, PacketChain.n)
            .join(PacketChain, PacketChain.packet_id == Packet.packet_id, isouter=True)
            .where(Packet.case_id == case_id)
            .order_by(Packet.device_id, PacketChain.n, Packet.seq)
        )
    ).all()
    last = (
        select(PacketChain.device_id, func.max(PacketChain.n).label("n"))
        .join(Packet, Packet.packet_id == PacketChain.packet_id)
        .where(Packet.case_id == case_id)
        .group_by(PacketChain.device_id)
        .subquery()
    )
    entries = await session.scalars(
        select(PacketChain)
        .join(last, last.c.device_id == PacketChain.device_id)
        .where(PacketChain.n <= last.c.n)
        .order_by(PacketChain.device_id, PacketChain.n)
    )
    chain_lines = [_chain_line(e) for e in entries]
    mine = {p.packet_id for p, _ in packets}
    referenced = list(
        dict.fromkeys(sha for e in chain_lines if e["packet_id"] in mine for sha in e["media"])
    )
    held = set(
        await session.scalars(select(MediaObject.sha256).where(MediaObject.sha256.in_(referenced)))
    )
    timings = await session.scalars(
        select(CaseTiming).where(CaseTiming.case_id == case_id).order_by(CaseTiming.name)
    )
    document = {
        "format": FORMAT,
        "case": _columns(case),
        "packets": [_packet(p, n) for p, n in packets],
        "timings": [_columns(t) for t in timings],
        "photos": [sha for sha in referenced if sha in held],
        "photos_not_received": [sha for sha in referenced if sha not in held],
    }
    photos_dir = out / "photos"
    await anyio.to_thread.run_sync(lambda: photos_dir.mkdir(parents=True, exist_ok=True))
    for sha in document["photos"]:
        try:
            await store.fetch(object_key(sha), photos_dir / sha)
        except KeyError:  # recorded as held, gone from the store: `kancha verify` says so too
            raise ExportError(f"photo {sha}: recorded but not in the media store") from None
    case_json = msgspec.json.format(msgspec.json.encode(document), indent=2)
    await anyio.to_thread.run_sync(_write, out / "case.json", case_json)
    lines = b"".join(msgspec.json.encode(e) + b"\n" for e in chain_lines)
    await anyio.to_thread.run_sync(_write, out / "chain.jsonl", lines)
    return Exported(
        len(packets), len(chain_lines), len(document["photos"]), len(referenced) - len(held)
    )


def _packet(p: Packet, n: int | None) -> dict[str, Any]:
    return {
        "packet_id": p.packet_id,
        "device_id": p.device_id,
        "n": n,
        "seq": p.seq,
        "kind": p.kind,
        "status": p.status,
        "reason": p.reason,
        "received_at": stamp(p.received_at),
        "body_format": p.body_format,
        "body_base64": base64.b64encode(p.body).decode(),
    }


def _chain_line(e: PacketChain) -> dict[str, Any]:
    return {
        "device_id": e.device_id,
        "n": e.n,
        "packet_id": e.packet_id,
        "seq": e.seq,
        "body_sha256": e.body_sha256,
        "received_at": stamp(e.received_at),
        "status": e.status,
        "media": e.media.split(",") if e.media else [],
        "prev": e.prev,
        "digest": e.digest,
    }


def _check_empty(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out}: not an empty directory (an export goes into a new one)")


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
