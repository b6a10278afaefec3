"""Decoding what arrives on the wire: strictly, one way for every route and format.

msgspec checks types and bounds, but a float field (or a free-form value) still takes NaN
and ±Infinity, which MessagePack carries and no timing, report or JSON answer can hold; and
MessagePack carries values JSON has no form for (bin, ext, timestamps, non-string keys).
Every body is decoded here so that both are found by one walk, named by their path.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any, TypeVar

import msgspec

from cases.refusal import Refusal

T = TypeVar("T")

JSON, MSGPACK = "json", "msgpack"
_AT = re.compile(r" - at `\$(.*)`$")


def decode(body: bytes, into: type[T] | Any, fmt: str = JSON, prefix: str = "") -> T:
    """`body` as `into`, strictly (no string for a number), with no non-finite number
    anywhere in it; refuses it (400) naming the field, its path under `prefix`
    (`packets[3].data.x`)."""
    decoder = msgspec.msgpack.decode if fmt == MSGPACK else msgspec.json.decode
    try:
        value = decoder(body, type=into, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise field_error(exc, prefix) from None
    # JSON has no literal for NaN or ±Infinity and msgspec refuses a number out of range,
    # so only MessagePack needs the walk.
    if fmt == MSGPACK and not _all_finite(value) and (where := non_finite(value)) is not None:
        raise Refusal(_join(prefix, where) or "body", "must be a finite number")
    return value


def field_error(exc: Exception, prefix: str = "") -> Refusal:
    """msgspec's 'Expected int >= 1 - at `$.seq`' as `seq: Expected int >= 1`."""
    message = str(exc)
    match = _AT.search(message)
    path = match.group(1) if match else ""
    return Refusal(_join(prefix, path) or "body", _AT.sub("", message))


def _join(prefix: str, path: str) -> str:
    return (prefix + path).lstrip(".")


def _all_finite(value: Any) -> bool:
    """The walk of `non_finite` without building paths: the common case, every number fine."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, msgspec.Struct):
        return all(_all_finite(getattr(value, name)) for name in value.__struct_fields__)
    if isinstance(value, dict):
        return all(_all_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_all_finite(item) for item in value)
    return True


def non_finite(value: Any, path: str = "") -> str | None:
    """The path of the first NaN or ±Infinity in a decoded value, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            if (found := non_finite(getattr(value, name), f"{path}.{name}")) is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if (found := non_finite(item, _key_path(path, key))) is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := non_finite(item, f"{path}[{i}]")) is not None:
                return found
    return None


def not_json(value: Any, path: str = "") -> tuple[str, str] | None:
    """(path, what) of the first value in a free-form value that JSON has no form for,
    or None when all of it is plain JSON (strings, numbers, booleans, null, lists, maps
    with string keys)."""
    if value is None or isinstance(value, str | int | float | bool):
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return path, f"has a map key that is not a string ({_kind(key)})"
            if (found := not_json(item, _key_path(path, key))) is not None:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (found := not_json(item, f"{path}[{i}]")) is not None:
                return found
        return None
    return path, f"is a {_kind(value)}, which JSON cannot carry"


def _kind(value: Any) -> str:
    if isinstance(value, msgspec.msgpack.Ext):
        return f"MessagePack ext value (type {value.code})"
    if isinstance(value, datetime | date | time):
        return "MessagePack timestamp"
    if isinstance(value, bytes | bytearray | memoryview):
        return "MessagePack bin value"
    return type(value).__name__


def _key_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if isinstance(key, str) else f"{path}[{key!r}]"
