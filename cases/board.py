"""The dispatcher's board: every open case, its running timings by the server's clock,
its surveyor and where that surveyor was last seen. Read from the stored timings, so it
costs one pass over open cases, not over the packet log."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cases.intake import awaiting_confirmation, is_late_report
from cases.limits import Limits
from cases.models import Case, CaseProgress, CaseTiming, SurveyorPosition, User
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
    late_report: bool = False
    delegated_in: bool = False
    self_reported: bool = False
    reported_by: str | None = None
    awaiting_confirmation: bool = False

    @property
    def most_urgent(self) -> int | None:
        return min((t.seconds_left for t, _ in self.running), default=None)


def stored_measure(row: CaseTiming) -> Measure:
    return Measure(
        name=row.name,
        limit_key=row.limit_key,
        start=row.start_at,
        end=row.end_at,
        source=row.source,
        end_packet_id=row.end_packet_id,
        flags=[f for f in row.flags.split(",") if f],
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
    return sorted(
        cases.values(),
        key=lambda c: (c.most_urgent is None, c.most_urgent or 0, c.case_no),
    )


async def running_timings(
    session: AsyncSession, limits: Limits, now: datetime, case_ids: list[str] | None = None
) -> dict[str, list[tuple[Timing, str]]]:
    """The running timings of these cases (all cases: None), judged by the server's clock,
    in TIMING_NAMES order, each with its limit key."""
    query = select(CaseTiming).where(CaseTiming.end_at.is_(None)).order_by(CaseTiming.case_id)
    if case_ids is not None:
        if not case_ids:
            return {}
        query = query.where(CaseTiming.case_id.in_(case_ids))
    running: dict[str, list[CaseTiming]] = defaultdict(list)
    for row in await session.scalars(query):
        running[row.case_id].append(row)
    judged = {}
    for case_id, timing_rows in running.items():
        timing_rows.sort(key=lambda r: TIMING_NAMES.index(r.name))
        judged[case_id] = [
            (judge(stored_measure(r), limits, now), r.limit_key) for r in timing_rows
        ]
    return judged
