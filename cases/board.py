"""The dispatcher's board: every open case, its running timings by the server's clock,
its surveyor, where that surveyor was last seen and, on the way, when they should arrive.
Read from the stored timings, so it costs one pass over open cases, not over the packet
log (the ETA reads the last fixes of the case each surveyor was last seen on)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cases.eta import Eta, Fix, eta
from cases.intake import awaiting_confirmation, is_late_report
from cases.limits import Limits
from cases.models import (
    Case,
    CaseProgress,
    CaseTiming,
    Dispatch,
    Packet,
    SurveyorPosition,
    User,
)
from cases.recalc import PACKET_COLUMNS
from cases.timeline import Event, to_event
from cases.timings import Measure, Timing, judge
from cases.values import TIMING_NAMES


@dataclass
class BoardCase:
    case_id: str
    case_no: str
    zone: str
    status: str
    surveyor: str | None
    position: SurveyorPosition | None
    running: list[tuple[Timing, str]] = field(default_factory=list)
    # Intake (cases/intake.py): 延时报案, delegated in, opened from a tablet and unconfirmed.
    occurred_at: datetime | None = None
    late_report: bool = False
    delegated_in: bool = False
    self_reported: bool = False
    reported_by: str | None = None
    awaiting_confirmation: bool = False
    surveyor_id: int | None = None
    lat: float = 0.0
    lon: float = 0.0
    # While the arrival runs: when the surveyor should be there (cases/eta.py).
    eta: Eta | None = None

    @property
    def most_urgent(self) -> int | None:
        return min((t.seconds_left for t, _ in self.running), default=None)


def stored_measure(row: CaseTiming, zone: str | None = None) -> Measure:
    """A stored timing as measured, with the case's `zone` (whose limits may apply)."""
    return Measure(
        name=row.name,
        limit_key=row.limit_key,
        start=row.start_at,
        end=row.end_at,
        source=row.source,
        end_packet_id=row.end_packet_id,
        flags=[f for f in row.flags.split(",") if f],
        team=row.team,
        zone=zone,
    )


async def board(
    session: AsyncSession, limits: Limits, now: datetime, late_report: timedelta
) -> list[BoardCase]:
    """Open cases (not closed, not approved), most urgent first, undispatched ones last
    (self-reported ones among them: awaiting the dispatch that confirms them)."""
    opener = aliased(User)
    rows = await session.execute(
        select(Case.id, Case.case_no, Case.zone, Case.status, User.name, SurveyorPosition)
        .add_columns(Case.reported_at, Case.occurred_at, Case.self_reported)
        .add_columns(Case.delegated_from, Case.surveyor_id, opener.name.label("opener"))
        .add_columns(Case.lat, Case.lon)
        .outerjoin(User, User.id == Case.surveyor_id)
        .join(opener, opener.id == Case.created_by)
        .outerjoin(SurveyorPosition, SurveyorPosition.surveyor_id == Case.surveyor_id)
        .outerjoin(CaseProgress, CaseProgress.case_id == Case.id)
        .where(
            Case.status != "closed",
            or_(CaseProgress.approved.is_(None), CaseProgress.approved.is_(False)),
        )
    )
    cases = {
        r.id: BoardCase(
            r.id,
            r.case_no,
            r.zone,
            r.status,
            r.name,
            r.SurveyorPosition,
            surveyor_id=r.surveyor_id,
            lat=r.lat,
            lon=r.lon,
            occurred_at=r.occurred_at,
            late_report=is_late_report(r.reported_at, r.occurred_at, late_report),
            delegated_in=r.delegated_from is not None,
            self_reported=bool(r.self_reported),
            reported_by=r.opener if r.self_reported else None,
            awaiting_confirmation=awaiting_confirmation(
                bool(r.self_reported), r.surveyor_id, r.status
            ),
        )
        for r in rows
    }
    if cases:
        for case_id, judged in (await running_timings(session, limits, now)).items():
            if case_id in cases:
                cases[case_id].running = judged
        await _etas(session, list(cases.values()), now)
    return sorted(
        cases.values(),
        key=lambda c: (c.most_urgent is None, c.most_urgent or 0, c.case_no),
    )


async def _etas(session: AsyncSession, cases: list[BoardCase], now: datetime) -> None:
    """An ETA for each case whose surveyor is still expected on the scene: the arrival
    runs and the case was last dispatched to them for the scene (not handed on for the
    estimate or documents, which leaves the arrival to the scene surveyor)."""
    waiting = [
        c
        for c in cases
        if c.position is not None and any(t.name == "arrival" for t, _ in c.running)
    ]
    last_purpose: dict[str, str] = {}
    if waiting:
        for case_id, purpose in await session.execute(
            select(Dispatch.case_id, Dispatch.purpose)
            .where(Dispatch.case_id.in_([c.case_id for c in waiting]))
            .order_by(Dispatch.id)
        ):
            last_purpose[case_id] = purpose
    waiting = [c for c in waiting if last_purpose.get(c.case_id) == "scene"]
    fixes = await last_fixes(session, [c.position for c in waiting if c.position is not None])
    for c in waiting:
        c.eta = eta(fixes.get(c.surveyor_id or 0, []), c.lat, c.lon, c.zone, now)


async def last_fixes(
    session: AsyncSession, positions: list[SurveyorPosition]
) -> dict[int, list[Fix]]:
    """Each surveyor's last two position fixes, newest last: the one their last known
    position holds and the one before it on the same case (where they were driving)."""
    if not positions:
        return {}
    newest = {p.surveyor_id: p for p in positions}
    rows = await session.execute(
        select(*PACKET_COLUMNS).where(
            Packet.case_id.in_({p.case_id for p in newest.values()}),
            Packet.surveyor_id.in_(newest),
            Packet.status == "accepted",
            Packet.lat.is_not(None),
            Packet.lon.is_not(None),
        )
    )
    events: dict[int, list[Event]] = defaultdict(list)
    for row in rows:
        if row.case_id == newest[row.surveyor_id].case_id:
            events[row.surveyor_id].append(to_event(row))
    out: dict[int, list[Fix]] = {}
    for surveyor_id, found in events.items():
        held = newest[surveyor_id]
        found.sort(key=lambda e: (e.time, e.packet_id))
        # Nothing newer than the position (a later fix may be on another case's log).
        upto = [e for e in found if (e.time, e.packet_id) <= (held.at, held.packet_id)]
        out[surveyor_id] = [Fix(e.lat or 0.0, e.lon or 0.0, e.time) for e in upto[-2:]]
    for surveyor_id, held in newest.items():  # the position itself, whatever the log says
        if not out.get(surveyor_id):
            out[surveyor_id] = [Fix(held.lat, held.lon, held.at)]
    return out


async def running_timings(
    session: AsyncSession, limits: Limits, now: datetime, case_ids: list[str] | None = None
) -> dict[str, list[tuple[Timing, str]]]:
    """The running timings of these cases (all cases: None), judged by the server's clock,
    in TIMING_NAMES order, each with its limit key."""
    query = (
        select(CaseTiming, Case.zone)
        .join(Case, Case.id == CaseTiming.case_id)
        .where(CaseTiming.end_at.is_(None))
        .order_by(CaseTiming.case_id)
    )
    if case_ids is not None:
        if not case_ids:
            return {}
        query = query.where(CaseTiming.case_id.in_(case_ids))
    running: dict[str, list[tuple[CaseTiming, str]]] = defaultdict(list)
    for row, zone in await session.execute(query):
        running[row.case_id].append((row, zone))
    judged = {}
    for case_id, timing_rows in running.items():
        timing_rows.sort(key=lambda r: TIMING_NAMES.index(r[0].name))
        judged[case_id] = [
            (judge(stored_measure(r, zone), limits, now), r.limit_key) for r, zone in timing_rows
        ]
    return judged
