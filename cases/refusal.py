"""One refusal type for the whole domain: what was refused, the field at fault, and why.

`sync/`, `cases/` and `media/` raise it (or a subclass naming a common case) and know nothing
of HTTP; `server/errors.py` maps it to a response in one place. `status` is the HTTP status
the refusal means (400 bad input, 403 not yours, 404 not found, 409 not now, ...), kept as a
plain number so the domain needs no web framework to say it.
"""

from __future__ import annotations


class Refusal(Exception):
    """A request the domain will not carry out; nothing was changed by it."""

    status = 400

    def __init__(
        self,
        field: str,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})

    @property
    def detail(self) -> str:
        return str(self)


class NotFound(Refusal):
    status = 404


class Forbidden(Refusal):
    status = 403


class Conflict(Refusal):
    """Refused in the case's present state (e.g. dispatching an approved case)."""

    status = 409


class Unavailable(Refusal):
    """Something kancha depends on (the media store, the disk) cannot serve now: retry."""

    status = 503
