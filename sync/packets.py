"""What a packet is: its wire form, its checks, and the canonical digest that dedupes it.

The packet Struct lives here rather than beside the push route because the sync layer
itself must read it back: stored packets are kept verbatim and decoded again by the
timings and media code, which know nothing of HTTP.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

import msgspec

from cases.refusal import Refusal
from cases.values import AwareTime, Identifier, Lat, Lon, time_out_of_range
from sync.wire import not_json

Kind = Literal[
    "accepted",
    "contacted",
    "departed",
    "position",
    "arrived",
    "photo",
    "document",
    "survey_completed",
    # Large cases (> 10,000 yuan): the car is taken apart, then labour and parts are fixed.
    "disassembled",
    "items_fixed",
    "estimate_submitted",
    "note",
]
Category = Literal[
    "scene",
    "damage",
    "vin",
    "plate",
    "driving_licence",
    "vehicle_licence",
    "claim_form",
    "bank_details",
    "simple_procedure_form",
    "agreement",
    "compulsory_policy",
    "police_report",
    "invoice",
    "other",
]
KINDS: tuple[str, ...] = get_args(Kind)
CATEGORIES: tuple[str, ...] = get_args(Category)
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex")]
# The tablet's monotonic clock: which boot, and milliseconds since it (never moved by a
# wall-clock correction). Ten years of uptime is the most a reading may claim.
MAX_ELAPSED_MS = 10 * 366 * 24 * 3600 * 1000
BootId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="the tablet's boot (e.g. Android's boot id, a UUID); with elapsed_ms",
    ),
]
ElapsedMs = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=MAX_ELAPSED_MS,
        description="when the packet was recorded: milliseconds (0 or more) since that boot "
        "on the tablet's monotonic clock (SystemClock.elapsedRealtime); with boot_id",
    ),
]


class Gps(msgspec.Struct, forbid_unknown_fields=False):
    lat: Lat
    lon: Lon
    accuracy_m: Annotated[float, msgspec.Meta(ge=0)] | None = None
    fix_time: AwareTime | None = None


class Packet(msgspec.Struct, kw_only=True):
    packet_id: Identifier
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    case_id: Identifier
    kind: Kind
    occurred_at: AwareTime
    gps: Gps | None = None
    data: dict[str, Any] = {}
    media: Annotated[list[Sha256], msgspec.Meta(max_length=200)] = []
    # When the event was recorded on the tablet's monotonic clock (optional, both or none).
    boot_id: BootId | None = None
    elapsed_ms: ElapsedMs | None = None


def check_monotonic(boot_id: str | None, elapsed_ms: int | None, at: str = "") -> None:
    """`boot_id` and `elapsed_ms` come together or not at all (400 naming the one missing)."""
    if (boot_id is None) != (elapsed_ms is None):
        missing = "boot_id" if boot_id is None else "elapsed_ms"
        other = "elapsed_ms" if boot_id is None else "boot_id"
        raise Refusal(f"{at}.{missing}" if at else missing, f"must be given with {other}")


def check_data(packet: Packet, at: str = "", raw: bytes | None = None) -> None:
    """What `data` must carry for the packet's kind (the wire types cannot say it); a
    Refusal (400) names the field under `at`, the packet's path in the push. `raw`, the
    packet's bytes if known, spares the walk for NUL when they cannot spell one (JSON
    writes it as a backslash-u0000 escape, MessagePack as a zero byte)."""

    def refused(field: str, message: str) -> Refusal:
        return Refusal(f"{at}.{field}" if at else field, message)

    for name, when in (
        ("occurred_at", packet.occurred_at),
        ("gps.fix_time", packet.gps.fix_time if packet.gps else None),
    ):
        if when is not None and (problem := time_out_of_range(when)):
            raise refused(name, problem)
    check_monotonic(packet.boot_id, packet.elapsed_ms, at)
    data = packet.data
    if packet.kind in ("photo", "document"):
        category = data.get("category")
        if category not in CATEGORIES:
            raise refused("data.category", f"must be one of {', '.join(CATEGORIES)}")
    elif packet.kind == "estimate_submitted":
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise refused("data.amount", "must be a number of yuan, 0 or more")
        if not isinstance(data.get("items", []), list):
            raise refused("data.items", "must be a list")
    if (raw is None or b"\x00" in raw or b"\\u0000" in raw) and _has_nul(data):
        raise refused("data", "text may not hold a NUL character")


def refusal(packet: Packet) -> str | None:
    """Why a well-formed packet must be settled as rejected rather than taken: its `data`
    holds a value JSON has no form for (MessagePack bin, ext, timestamp, a non-string
    key). Such a packet could not be answered, digested or read back the same way from
    both formats; refusing the whole push instead would freeze the tablet's queue on it."""
    found = not_json(packet.data, "data")
    return f"{found[0]}: {found[1]}" if found else None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


_canonical = msgspec.json.Encoder(order="sorted")


def digest(packet: Packet) -> str:
    """SHA-256 of the packet's canonical form: the same content digests the same whether
    it came as JSON or MessagePack, with keys in any order and times in any offset.
    A packet without the monotonic fields digests as it did before they existed."""
    plain = msgspec.to_builtins(packet)
    for name in ("boot_id", "elapsed_ms"):
        if plain[name] is None:
            del plain[name]
    plain["occurred_at"] = _utc(packet.occurred_at)
    if packet.gps is not None and packet.gps.fix_time is not None:
        plain["gps"]["fix_time"] = _utc(packet.gps.fix_time)
    return hashlib.sha256(_canonical.encode(plain)).hexdigest()


def verbatim_digest(body: bytes) -> str:
    """The digest of a refused packet (one `digest` cannot put in canonical form): its
    bytes, so the same re-send is the same packet and gets the same rejection."""
    return hashlib.sha256(b"verbatim:" + body).hexdigest()


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()
