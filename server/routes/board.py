"""The dispatcher's board: open cases with their running timings by the server's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
from litestar import get
from litestar.di import NamedDependency

from cases.eta import SpeedFrom
from cases.service import Board, CaseService
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


class Eta(msgspec.Struct, kw_only=True):
    # When the surveyor should reach the scene, and how long from now (0: expected by now).
    at: datetime
    seconds: int
    # From the last fix to the case location, and the speed assumed: measured between the
    # last two fixes (`fixes`), or the zone's default (`default`: one fix, standing still).
    distance_m: float
    speed_kmh: float
    speed_from: SpeedFrom
    fix_at: datetime


class BoardRow(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    zone: str
    status: str
    surveyor: str | None
    timings: list[RunningTiming]
    # The surveyor's latest GPS fix on any case (by event time), if any.
    position: Position | None
    # The accident time, if known; reported more than KANCHA_LATE_REPORT_SECONDS after it
    # is late_report (延时报案).
    occurred_at: datetime | None = None
    late_report: bool = False
    # Delegated to us by another branch or insurer.
    delegated_in: bool = False
    # Opened by a surveyor (`reported_by`) from the tablet; awaiting_confirmation until a
    # dispatcher confirms it by dispatching it (to them: their held packets then join).
    self_reported: bool = False
    reported_by: str | None = None
    awaiting_confirmation: bool = False
    # While the arrival runs and the surveyor has a fix; None otherwise (arrived, no fix).
    eta: Eta | None = None


class SurveyorRow(msgspec.Struct, kw_only=True):
    name: str
    team: str | None
    # The open cases (those on the board) the surveyor holds.
    open_cases: int
    open_case_ids: list[str]
    # Cases dispatched to them within KANCHA_LOAD_WINDOW_SECONDS; at least
    # KANCHA_LOAD_WARN_COUNT of them: `needs_backup` (call in the backup group).
    new_reports: int
    new_case_ids: list[str]
    needs_backup: bool
    position: Position | None


class BoardResponse(msgspec.Struct, kw_only=True):
    now: datetime
    cases: list[BoardRow]
    # Every active surveyor (and any revoked one still holding an open case), by name.
    surveyors: list[SurveyorRow] = []


@get(
    "/v1/board",
    guards=[roles("dispatcher", "reviewer")],
    tags=["board"],
    summary="Every open case: surveyor, status, running timings, last known position, ETA; "
    "every surveyor's load",
    responses=errors(403),
)
async def read_board(cases: NamedDependency[CaseService]) -> BoardResponse:
    return board_response(await cases.board())


def board_response(found: Board) -> BoardResponse:
    """The board as the API sends it (and the desk's board page shows it)."""
    rows = [
        wire(case, BoardRow, timings=[running_timing(t, key) for t, key in case.running])
        for case in found.cases
    ]
    surveyors = [
        wire(load, SurveyorRow, open_cases=load.open_cases, new_reports=load.new_reports)
        for load in found.surveyors
    ]
    return BoardResponse(now=found.now, cases=rows, surveyors=surveyors)


def running_timing(timing: Timing, limit_key: str) -> RunningTiming:
    due_at = timing.start + timedelta(seconds=timing.limit_seconds)
    return wire(timing, RunningTiming, limit_key=limit_key, due_at=due_at)
