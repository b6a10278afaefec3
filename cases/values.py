"""Value types shared by the wire and the domain: one definition of what a field may hold.

Strings refuse NUL (PostgreSQL cannot store it, and no tablet means one), so a bad value is
a 400 naming the field on every backend instead of a database error on one of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

import msgspec

NO_NUL = r"^[^\x00]*$"

# Each list of allowed values, defined once: the wire types use the Literal, checks the tuple.
Role = Literal["surveyor", "dispatcher", "reviewer", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
DESK_ROLES = frozenset({"reviewer", "dispatcher", "admin"})
Zone = Literal["city", "suburban", "out_of_town"]
ZONES: tuple[str, ...] = get_args(Zone)
Decision = Literal["approved", "returned"]
# Why a surveyor is sent (domain.md): only `scene` restarts the scene timings.
Purpose = Literal["scene", "estimate", "resurvey", "documents"]
PURPOSES: tuple[str, ...] = get_args(Purpose)
# Case-level timings first (the customer's wait, the out-of-town delegation), then the
# dispatch's, in lifecycle order. Tablets ignore names they do not know.
TimingName = Literal[
    "report_to_arrival",
    "delegation",
    "accept",
    "contact",
    "arrival",
    "items_fixed",
    "estimate",
    "resubmit",
    "front_end_cycle",
]
TIMING_NAMES: tuple[str, ...] = get_args(TimingName)
TimingState = Literal["running", "met", "missed", "overdue"]
# `device_monotonic`: the push's corrected time minus the tablet's monotonic elapsed time.
TimeSource = Literal["gps", "device_monotonic", "device_corrected", "server_received"]
# Desk acts recorded in case_actions.
CaseActionKind = Literal["delegated", "closed", "reopened"]

Lat = Annotated[float, msgspec.Meta(ge=-90, le=90, description="degrees, WGS-84")]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180, description="degrees, WGS-84")]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with offset")]

# Field times outside these years are a broken clock, not an event: refused by name rather
# than let an offset correction run off the end of the calendar.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def time_out_of_range(value: datetime) -> str | None:
    """Why a field time cannot be taken, or None when it can."""
    if not EARLIEST <= value < LATEST:
        return f"must lie between {EARLIEST:%Y} and {LATEST:%Y}"
    return None


def _text(min_length: int, max_length: int) -> msgspec.Meta:
    return msgspec.Meta(min_length=min_length, max_length=max_length, pattern=NO_NUL)


CaseNo = Annotated[str, _text(1, 64)]
Address = Annotated[str, _text(0, 500)]
Plate = Annotated[str, _text(0, 32)]
UserName = Annotated[str, _text(1, 100)]
Reason = Annotated[str, _text(0, 2000)]


Identifier = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="letters, digits and . _ : - (a UUID fits)",
    ),
]


class Location(msgspec.Struct):
    lat: Lat
    lon: Lon
