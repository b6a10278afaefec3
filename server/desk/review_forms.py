"""The review forms read into the API's own wire type (server/routes/review.py), so a desk
decision is checked exactly like `POST /v1/cases/{id}/review` before the domain sees it;
anything wrong is a Refusal naming the field, shown next to the form."""

from __future__ import annotations

import math
import re

import msgspec
from litestar.datastructures import FormMultiDict

from cases.refusal import Refusal
from server.routes.review import ReviewRequest

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<field>[^`]*)`)?$", re.S)


def text(form: FormMultiDict, name: str) -> str:
    """A text field ("" when absent); a file where text belongs is refused by name."""
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal(name, "must be text")
    return value


def amount(form: FormMultiDict) -> float | None:
    """The approved amount in yuan: empty is the estimate as submitted (None)."""
    raw = text(form, "approved_amount").strip().replace(",", "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Refusal("approved_amount", "must be a number of yuan") from None
    if not math.isfinite(value):
        raise Refusal("approved_amount", "must be a number of yuan")
    return value


def _convert(raw: dict) -> ReviewRequest:
    try:
        return msgspec.convert(raw, ReviewRequest)
    except msgspec.ValidationError as exc:
        found = _AT.match(str(exc))
        field = (found.group("field") if found else "") or ""
        message = found.group("message") if found else str(exc)
        raise Refusal(field, message) from None


def approval(form: FormMultiDict) -> ReviewRequest:
    return _convert({"decision": "approved", "approved_amount": amount(form)})


def return_of(form: FormMultiDict) -> ReviewRequest:
    requested = form.getall("requested", [])
    if not all(isinstance(value, str) for value in requested):
        raise Refusal("requested", "must be categories")
    return _convert(
        {"decision": "returned", "reason": text(form, "reason"), "requested": requested}
    )
