"""The dispatcher's board: open cases with their running timings by the server's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
from litestar import get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from cases.board import board
from cases.clock import Clock
from cases.limits import Limits
from server.auth import roles
from server.openapi import errors
from server.routes.timing_views import TimingView, timing_view


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
async def read_board(
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
    limits: NamedDependency[Limits],
) -> BoardResponse:
    now = clock.now()
    rows = []
    for case in await board(db_session, limits, now):
        timings = []
        for timing, limit_key in case.running:
            view = timing_view(timing, limit_key)
            timings.append(
                RunningTiming(
                    **msgspec.structs.asdict(view),
                    seconds_left=timing.seconds_left,
                    due_at=timing.start + timedelta(seconds=timing.limit_seconds),
                )
            )
        position = case.position
        rows.append(
            BoardRow(
                case_id=case.case_id,
                case_no=case.case_no,
                zone=case.zone,
                status=case.status,
                surveyor=case.surveyor,
                timings=timings,
                position=Position(
                    lat=position.lat, lon=position.lon, at=position.at, case_id=position.case_id
                )
                if position is not None
                else None,
            )
        )
    return BoardResponse(now=now, cases=rows)
