"""The board's forms read into the API's own request types (server/routes/cases.py), so a
value the API refuses is refused here by the same rule, as a Refusal naming the form field.
Times typed in the branch's time zone (an `<input type="datetime-local">` sends no offset)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TypeVar

import msgspec

from cases.refusal import Refusal
from server.routes.cases import CloseRequest, DelegateRequest, DispatchRequest, NewCase

T = TypeVar("T")
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.S)
# API paths that are another field on the form.
FORM_FIELDS = {"location.lat": "lat", "location.lon": "lon"}


def _convert(value: dict[str, object], wire_type: type[T]) -> T:
    try:
        return msgspec.convert(value, wire_type)
    except msgspec.ValidationError as exc:
        found = _AT.match(str(exc))
        path = (found.group("path") if found else "") or ""
        message = found.group("message") if found else str(exc)
        raise Refusal(FORM_FIELDS.get(path, path), message) from None


def _text(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if isinstance(value, list):  # sent twice: the first one
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) else ""


def _optional(data: Mapping[str, object], name: str) -> str | None:
    return _text(data, name) or None


def local_time(data: Mapping[str, object], name: str, zone: timezone) -> datetime | None:
    """A time as typed at the desk: read in the branch's zone unless it names its offset."""
    text = _text(data, name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Refusal(name, "must be a date and time, e.g. 2026-01-05T15:55") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _number(data: Mapping[str, object], name: str) -> float:
    try:
        value = float(_text(data, name))
    except ValueError:
        raise Refusal(name, "must be a number of degrees, e.g. 31.2304") from None
    if not math.isfinite(value):
        raise Refusal(name, "must be a number of degrees, e.g. 31.2304")
    return value


def new_case(data: Mapping[str, object], zone: timezone) -> NewCase:
    reported_at = local_time(data, "reported_at", zone)
    if reported_at is None:
        raise Refusal("reported_at", "when the accident was reported is needed")
    body: dict[str, object] = {
        "case_no": _text(data, "case_no"),
        "reported_at": reported_at,
        "location": {"lat": _number(data, "lat"), "lon": _number(data, "lon")},
        "address": _text(data, "address"),
        "zone": _text(data, "zone"),
        "plate": _optional(data, "plate"),
        "simple_procedure": bool(_text(data, "simple_procedure")),
        "occurred_at": local_time(data, "occurred_at", zone),
        "delegated_from": _optional(data, "delegated_from"),
    }
    return _convert(body, NewCase)


def dispatch_request(data: Mapping[str, object]) -> DispatchRequest:
    body = {"surveyor": _text(data, "surveyor"), "purpose": _text(data, "purpose") or "scene"}
    return _convert(body, DispatchRequest)


def delegate_request(data: Mapping[str, object]) -> DelegateRequest:
    body = {"to": _text(data, "to"), "reference": _optional(data, "reference")}
    return _convert(body, DelegateRequest)


def close_request(data: Mapping[str, object]) -> CloseRequest:
    return _convert({"reason": _optional(data, "reason")}, CloseRequest)
