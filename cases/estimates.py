"""A case's latest estimate as the reviewer reads it: its amount, when it came and its items
(and the required documents still missing, what a return may ask for).

The amount and the estimate under review are what the recalculation keeps in
`case_progress` (the same the queue and the review decide on); the items are read from the
estimate_submitted packet itself, verbatim in the log. The wire contract leaves an item's
shape to the tablet (`data.items`: a list), so each is read leniently: a name (`name`,
`item` or `description`), yuan (`yuan`, `amount` or `price`), and whatever else it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import CaseProgress, Packet

NAME_KEYS = ("name", "item", "description")
YUAN_KEYS = ("yuan", "amount", "price")


@dataclass
class EstimateItem:
    name: str
    yuan: float | None
    # Anything else the tablet put on the line (quantity, part number...), as text.
    other: dict[str, str] = field(default_factory=dict)


@dataclass
class Estimate:
    packet_id: str
    amount: float | None
    submitted_at: datetime | None
    awaiting_review: bool
    items: list[EstimateItem]
    # The case's required on-site documents (simple procedure) not photographed yet.
    missing_documents: list[str] = field(default_factory=list)


class _Data(msgspec.Struct):
    data: dict[str, Any] = {}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def estimate_item(raw: Any) -> EstimateItem:
    """One line of `data.items`, whatever its shape."""
    if not isinstance(raw, dict):
        return EstimateItem(_text(raw), None)
    name_key = next((k for k in NAME_KEYS if isinstance(raw.get(k), str)), None)
    yuan_key = next(
        (
            k
            for k in YUAN_KEYS
            if isinstance(raw.get(k), int | float) and not isinstance(raw.get(k), bool)
        ),
        None,
    )
    other = {str(k): _text(v) for k, v in raw.items() if k not in (name_key, yuan_key)}
    return EstimateItem(
        raw[name_key] if name_key else "",
        float(raw[yuan_key]) if yuan_key else None,
        other,
    )


def estimate_items(body: bytes, body_format: str) -> list[EstimateItem]:
    """The items of a stored estimate_submitted packet ([] when it has none)."""
    decode = msgspec.msgpack.decode if body_format == "msgpack" else msgspec.json.decode
    try:
        items = decode(body, type=_Data).data.get("items")
    except msgspec.DecodeError:
        return []
    return [estimate_item(item) for item in items] if isinstance(items, list) else []


async def latest_estimate(session: AsyncSession, case_id: str) -> Estimate | None:
    """The case's latest estimate as last recalculated, or None when it has none."""
    progress = await session.get(CaseProgress, case_id)
    if progress is None or progress.estimate_packet_id is None:
        return None
    packet = await session.get(Packet, progress.estimate_packet_id)
    items = estimate_items(packet.body, packet.body_format) if packet is not None else []
    return Estimate(
        packet_id=progress.estimate_packet_id,
        amount=progress.estimate_amount,
        submitted_at=progress.estimate_at,
        awaiting_review=bool(progress.awaiting_review),
        items=items,
        missing_documents=[d for d in progress.missing_documents.split(",") if d],
    )
