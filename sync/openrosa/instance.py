"""A submitted instance (the XML Collect sends) read and turned into wire packets.

The XML comes from a device, so it is untrusted: parsed with defusedxml (no DTD, no
entities), bounded in size by the caller, and checked against the form it claims to be.
The packets are what the JSON protocol would carry for the same survey (arrival, photos,
documents, survey completed, estimate); their ids derive from the instanceID and their
seqs from a range allocated once per instance, so a re-send is the same packets.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from cases.refusal import Refusal
from cases.values import time_out_of_range
from sync.openrosa.form import Form
from sync.packets import CATEGORIES, Gps, Packet, check_data, digest
from sync.push import Incoming
from sync.wire import JSON

MAX_XML_BYTES = 256 * 1024
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
PHOTO_SUFFIX = "_photo"


@dataclass(frozen=True)
class Instance:
    """What a submission says, read from its XML."""

    instance_id: str
    form_id: str
    version: str
    deviceid: str
    case_id: str
    start: datetime | None
    end: datetime
    arrived_at: datetime | None
    arrival: Gps | None
    scene: Gps | None
    # (field, filename) of each file field answered, in the form's order.
    files: list[tuple[str, str]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    estimate: float | None = None
    items: str = ""
    notes: str = ""

    @property
    def filenames(self) -> set[str]:
        return {name for _, name in self.files}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_instance(xml: bytes, form: Form) -> Instance:
    """The instance, or a Refusal (400) naming what is wrong: not XML, not this form
    (another form id, another version), a field missing or out of shape."""
    if len(xml) > MAX_XML_BYTES:
        raise Refusal("xml_submission_file", f"larger than {MAX_XML_BYTES} bytes", status=413)
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException:
        raise Refusal("xml_submission_file", "a DTD or entities are not accepted") from None
    except SafeET.ParseError as exc:
        raise Refusal("xml_submission_file", f"not well-formed XML ({exc})") from None
    form_id, version = root.get("id"), root.get("version")
    if form_id != form.form_id:
        raise Refusal("xml_submission_file", f"form id {form_id!r} is not a form of this server")
    if version != form.version:
        raise Refusal(
            "xml_submission_file",
            f"form version {version!r} is not the current one ({form.version}): "
            "get the blank form again",
        )
    values: dict[str, str] = {}
    for element in root.iter():
        if len(element) == 0:
            name = _local(element.tag)
            if name not in form.fields:
                raise Refusal("xml_submission_file", f"{name!r} is not a field of {form_id}")
            values[name] = (element.text or "").strip()

    def text(name: str, required: bool = False) -> str:
        value = values.get(name, "")
        if required and not value:
            raise Refusal(f"xml_submission_file.{name}", "required, missing or empty")
        return value

    instance_id = text("instanceID", True)
    if len(instance_id) > 64 or "\x00" in instance_id:
        raise Refusal("xml_submission_file.instanceID", "at most 64 characters")
    files = [(name, text(name)) for name in sorted(form.binary_fields) if text(name)]
    for name, filename in files:
        if "/" in filename or "\\" in filename or len(filename) > 255:
            raise Refusal(f"xml_submission_file.{name}", "not a plain file name")
    documents = text("documents").split()
    for category in documents:
        if category not in CATEGORIES:
            raise Refusal("xml_submission_file.documents", f"{category!r} is not a document")
    estimate = None
    if raw := text("estimate"):
        try:
            estimate = float(raw)
        except ValueError:
            raise Refusal("xml_submission_file.estimate", "not a number") from None
        if not 0 <= estimate < 1e12:
            raise Refusal("xml_submission_file.estimate", "must be 0 or more yuan")
    start = _time(values, "start")
    end = _time(values, "end", required=True)
    assert end is not None
    return Instance(
        instance_id=instance_id,
        form_id=form_id,
        version=version,
        deviceid=text("deviceid"),
        case_id=text("case", True),
        start=start,
        end=end,
        arrived_at=_time(values, "arrived_at"),
        arrival=_geopoint(values, "arrival"),
        scene=_geopoint(values, "scene"),
        files=files,
        documents=documents,
        estimate=estimate,
        items=text("items"),
        notes=text("notes"),
    )


def _time(values: dict[str, str], name: str, required: bool = False) -> datetime | None:
    raw = values.get(name, "")
    if not raw:
        if required:
            raise Refusal(f"xml_submission_file.{name}", "required, missing or empty")
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise Refusal(f"xml_submission_file.{name}", "not a date and time") from None
    if when.tzinfo is None:
        raise Refusal(f"xml_submission_file.{name}", "needs an offset from UTC")
    if problem := time_out_of_range(when):
        raise Refusal(f"xml_submission_file.{name}", problem)
    return when


def _geopoint(values: dict[str, str], name: str) -> Gps | None:
    """An ODK geopoint: 'lat lon [altitude [accuracy]]'."""
    raw = values.get(name, "")
    if not raw:
        return None
    parts = raw.split()
    try:
        numbers = [float(p) for p in parts]
        if not 2 <= len(numbers) <= 4:
            raise ValueError
        accuracy = numbers[3] if len(numbers) == 4 else None
        return msgspec.convert({"lat": numbers[0], "lon": numbers[1], "accuracy_m": accuracy}, Gps)
    except (ValueError, msgspec.ValidationError):
        raise Refusal(
            f"xml_submission_file.{name}", "not a geopoint ('lat lon altitude accuracy')"
        ) from None


def packet_key(instance_id: str) -> str:
    """The stem of the packet ids of an instance: its UUID, or a hash of an odd id."""
    stem = instance_id.removeprefix("uuid:")
    if len(stem) <= 40 and IDENTIFIER.fullmatch(stem):
        return stem
    return hashlib.sha256(instance_id.encode()).hexdigest()[:32]


def device_key(surveyor_id: int, deviceid: str) -> str:
    """The device a submission comes from: Collect's deviceid, per surveyor (a shared
    phone is two devices, so neither surveyor's submissions are refused as another's)."""
    raw = f"odk:{surveyor_id}:{deviceid or 'unknown'}"
    if len(raw) <= 64 and IDENTIFIER.fullmatch(raw):
        return raw
    return f"odk:{surveyor_id}:" + hashlib.sha256(deviceid.encode()).hexdigest()[:40]


def planned_packets(instance: Instance) -> list[dict[str, Any]]:
    """The packets of an instance without seqs or media hashes, in a fixed order."""
    key = packet_key(instance.instance_id)
    end = instance.end
    base = {"case_id": instance.case_id, "data": {"source": "odk"}}
    packets: list[dict[str, Any]] = []
    if instance.arrival is not None or instance.arrived_at is not None:
        packets.append(
            {
                **base,
                "packet_id": f"{key}:arrived",
                "kind": "arrived",
                "occurred_at": instance.arrived_at or instance.start or end,
                "gps": instance.arrival,
            }
        )
    for name, filename in instance.files:
        is_photo = name.endswith(PHOTO_SUFFIX)
        category = name.removesuffix(PHOTO_SUFFIX)
        packets.append(
            {
                **base,
                "packet_id": f"{key}:{'p' if is_photo else 'd'}:{category}",
                "kind": "photo" if is_photo else "document",
                "occurred_at": end,
                "data": {"source": "odk", "category": category},
                "file": filename,
            }
        )
    survey: dict[str, Any] = {"source": "odk", "documents": instance.documents}
    if instance.notes:
        survey["notes"] = instance.notes
    packets.append(
        {
            **base,
            "packet_id": f"{key}:survey",
            "kind": "survey_completed",
            "occurred_at": end,
            "gps": instance.scene or instance.arrival,
            "data": survey,
        }
    )
    if instance.estimate is not None:
        amount = int(instance.estimate) if instance.estimate.is_integer() else instance.estimate
        items = [{"name": instance.items}] if instance.items else []
        packets.append(
            {
                **base,
                "packet_id": f"{key}:estimate",
                "kind": "estimate_submitted",
                "occurred_at": end,
                "data": {"source": "odk", "amount": amount, "items": items},
            }
        )
    return packets


def incoming_packets(
    planned: list[dict[str, Any]], first_seq: int, files: dict[str, str]
) -> list[Incoming]:
    """Wire packets with their seqs (from `first_seq`) and media (`files`: name -> SHA-256),
    each encoded and digested exactly as a JSON push's packet is."""
    out = []
    for i, plan in enumerate(planned):
        plan = dict(plan)
        filename = plan.pop("file", None)
        packet = Packet(
            seq=first_seq + i,
            media=[files[filename]] if filename else [],
            **plan,
        )
        body = msgspec.json.encode(packet)
        try:  # every constraint of the wire type, as a JSON push is decoded
            msgspec.json.decode(body, type=Packet)
        except msgspec.ValidationError as exc:
            raise Refusal("xml_submission_file", f"not a packet kancha can take: {exc}") from None
        check_data(packet)
        out.append(Incoming(packet, body, JSON, digest(packet)))
    return out
