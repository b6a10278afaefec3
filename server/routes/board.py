"""The dispatcher's board: open cases with their running timings by the server's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
from litestar import get
from litestar.di import NamedDependency

from cases.service import CaseService
from cases.timings import Timing
from server.auth import roles
from server.openapi import errors
from server.routes.timing_views import TimingView, wire


class Position(msgspec.Struct, kw_only=True):
    lat: float
    lon: float
    at: datetime
    case_id: str


class RunningTiming(TimingView, kw_only=True):
    # limit_seconds - seconds: what is left, or (negative) how long overdue.
    seconds_left: int
    due_at: datetime


class BoardRow(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    zone: str
    status: str
    surveyor: str | None
    timings: list[RunningTiming]
    # The surveyor's latest GPS fix on any case (by event time), if any.
    position: Position | None
    # Reported more than KANCHA_LATE_REPORT_SECONDS after the accident (延时报案).
    late_report: bool = False
    # Delegated to us by another branch or insurer.
    delegated_in: bool = False
    # Opened by a surveyor (`reported_by`) from the tablet; awaiting_confirmation until a
    # dispatcher confirms it by dispatching it (to them: their held packets then join).
    self_reported: bool = False
    reported_by: str | None = None
    awaiting_confirmation: bool = False


class BoardResponse(msgspec.Struct, kw_only=True):
    now: datetime
    cases: list[BoardRow]


@get(
    "/v1/board",
    guards=[roles("dispatcher", "reviewer")],
    tags=["board"],
    summary="Every open case: surveyor, status, running timings, last known position",
    responses=errors(403),
)
async def read_board(cases: NamedDependency[CaseService]) -> BoardResponse:
    found = await cases.board()
    rows = [
        wire(case, BoardRow, timings=[running_timing(t, key) for t, key in case.running])
        for case in found.cases
    ]
    return BoardResponse(now=found.now, cases=rows)


def running_timing(timing: Timing, limit_key: str) -> RunningTiming:
    due_at = timing.start + timedelta(seconds=timing.limit_seconds)
    return wire(timing, RunningTiming, limit_key=limit_key, due_at=due_at)
