"""Recalculation: a case's timeline, timings and progress recomputed from the log.

Called in the transaction of every write that changes the picture (accepted packets,
dispatch, review), before `cases_changed`. It reads only the log (packets, dispatches,
reviews), so the same call from `kancha recalc` gives the same rows. Cases are locked in
id order first: two pushes touching one case recalculate it one after the other, each
seeing the other's committed packets.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.changes import lock_cases
from cases.delegation import ActionFact, delegation_measure
from cases.limits import Tiers
from cases.models import (
    Case,
    CaseAction,
    CaseProgress,
    CaseTiming,
    Dispatch,
    Packet,
    Review,
    SurveyorPosition,
)
from cases.rates import documents_on_site, first_scene, missing_documents
from cases.sql import insert
from cases.stages import stage
from cases.timeline import TRACK, CaseFacts, DispatchFact, Event, build_timeline, to_event
from cases.timings import Measure, ReviewFact, latest_estimate, measure

PACKET_COLUMNS = (
    Packet.case_id,
    Packet.packet_id,
    Packet.device_id,
    Packet.seq,
    Packet.surveyor_id,
    Packet.kind,
    Packet.received_at,
    Packet.corrected_at,
    Packet.fix_time,
    Packet.monotonic_at,
    Packet.lat,
    Packet.lon,
    Packet.accuracy_m,
    Packet.category,
    Packet.status,
    Packet.body_format,
    # Only estimates need their body (the amount): the rest stay on disk.
    case((Packet.kind == "estimate_submitted", Packet.body), else_=None).label("body"),
)


@dataclass
class CaseLog:
    """Everything the timings of one case are computed from."""

    facts: CaseFacts
    dispatches: list[DispatchFact]
    reviews: list[ReviewFact]
    rows: list[Any]
    actions: list[Any] = field(default_factory=list)  # ActionFact (cases/delegation.py)


@dataclass
class Computed:
    case_id: str
    timeline: list[Event]
    measures: list[Measure]
    log: CaseLog


def compute(
    case_id: str, log: CaseLog, tiers: Tiers, irregular_window: timedelta, stale_fix: timedelta
) -> Computed:
    timeline = build_timeline(log.facts, log.rows, log.dispatches, irregular_window, stale_fix)
    measures = measure(log.facts, timeline, log.dispatches, log.reviews, tiers)
    actions = [ActionFact(a.kind, a.at) for a in log.actions]
    delegation = delegation_measure(log.facts, log.dispatches, actions)
    if delegation is not None:
        measures.insert(0, delegation)
    return Computed(case_id, timeline, measures, log)


async def load_logs(
    session: AsyncSession, case_ids: Collection[str], *, track: bool = True
) -> dict[str, CaseLog]:
    """The logs of these cases; without the `track` (position packets) when not asked."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    logs: dict[str, CaseLog] = {}
    for row in await session.execute(
        select(
            Case.id, Case.lat, Case.lon, Case.reported_at, Case.zone, Case.simple_procedure
        ).where(Case.id.in_(ids))
    ):
        facts = CaseFacts(row.lat, row.lon, row.reported_at, row.zone, row.simple_procedure)
        logs[row.id] = CaseLog(facts, [], [], [])
    for row in await session.execute(
        select(
            Dispatch.case_id,
            Dispatch.surveyor_id,
            Dispatch.dispatched_at,
            Dispatch.purpose,
            Dispatch.team,
        )
        .where(Dispatch.case_id.in_(ids))
        .order_by(Dispatch.case_id, Dispatch.id)
    ):
        logs[row.case_id].dispatches.append(
            DispatchFact(row.surveyor_id, row.dispatched_at, row.purpose, row.team)
        )
    for row in await session.execute(
        select(Review.case_id, Review.decision, Review.reviewed_at, Review.estimate_packet_id)
        .where(Review.case_id.in_(ids))
        .order_by(Review.case_id, Review.id)
    ):
        logs[row.case_id].reviews.append(
            ReviewFact(row.decision, row.reviewed_at, row.estimate_packet_id)
        )
    # Held packets (irregular reports) join the timeline once a dispatch to their sender
    # follows in time (cases/timeline.py).
    for row in await session.execute(
        select(CaseAction.case_id, CaseAction.kind, CaseAction.at)
        .where(CaseAction.case_id.in_(ids))
        .order_by(CaseAction.case_id, CaseAction.id)
    ):
        logs[row.case_id].actions.append(row)
    packets = select(*PACKET_COLUMNS).where(
        Packet.case_id.in_(ids), Packet.status.in_(("accepted", "held"))
    )
    if not track:
        packets = packets.where(Packet.kind != TRACK)
    for row in await session.execute(packets):
        if row.case_id in logs:
            logs[row.case_id].rows.append(row)
    return logs


async def case_computed(
    session: AsyncSession,
    case_id: str,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
) -> Computed | None:
    """One case's timeline and measured timings, straight from the log (for reading)."""
    logs = await load_logs(session, [case_id])
    if case_id not in logs:
        return None
    return compute(case_id, logs[case_id], tiers, irregular_window, stale_fix)


def _timing_rows(computed: Computed) -> list[dict[str, Any]]:
    if not computed.measures:
        return []
    dispatches = computed.log.dispatches
    # A case delegated before any dispatch is selected by its report time.
    dispatched_at = dispatches[-1].dispatched_at if dispatches else computed.log.facts.reported_at
    return [
        dict(
            case_id=computed.case_id,
            name=m.name,
            limit_key=m.limit_key,
            team=m.team,
            dispatched_at=dispatched_at,
            start_at=m.start,
            end_at=m.end,
            source=m.source,
            end_packet_id=m.end_packet_id,
            flags=",".join(m.flags),
        )
        for m in computed.measures
    ]


def _progress_row(computed: Computed) -> dict[str, Any]:
    timeline, reviews = computed.timeline, computed.log.reviews
    last = len(computed.log.dispatches) - 1
    estimate = latest_estimate(timeline)
    reviewed = estimate is not None and any(
        r.estimate_packet_id == estimate.packet_id for r in reviews
    )
    cycle = next((m for m in computed.measures if m.name == "front_end_cycle"), None)
    return dict(
        case_id=computed.case_id,
        events=sum(1 for e in timeline if e.kind != TRACK),  # milestones, as pushes see
        photos=sum(1 for e in timeline if e.kind == "photo"),
        documents=sum(1 for e in timeline if e.kind == "document"),
        estimate_packet_id=estimate.packet_id if estimate else None,
        estimate_amount=estimate.amount if estimate else None,
        estimate_at=estimate.time if estimate else None,
        awaiting_review=estimate is not None and not reviewed,
        approved=cycle is not None and cycle.end is not None,
        documents_on_site=documents_on_site(computed.log.facts, timeline, last)
        if last >= 0
        else None,
        first_scene=first_scene(timeline, computed.log.dispatches),
        missing_documents=",".join(missing_documents(computed.log.facts, timeline, last)),
    )


def _positions(computed: Computed) -> dict[int, Event]:
    """Each surveyor's latest fix on this case, by event time (ties: highest packet_id)."""
    best: dict[int, Event] = {}
    for event in computed.timeline:
        if event.lat is None or event.lon is None:
            continue
        held = best.get(event.surveyor_id)
        if held is None or (event.time, event.packet_id) > (held.time, held.packet_id):
            best[event.surveyor_id] = event
    return best


async def store(session: AsyncSession, results: Iterable[Computed]) -> None:
    """Replace the derived rows of these cases; keep each surveyor's newest position."""
    results = list(results)
    if not results:
        return
    ids = [c.case_id for c in results]
    await session.execute(delete(CaseTiming).where(CaseTiming.case_id.in_(ids)))
    await session.execute(delete(CaseProgress).where(CaseProgress.case_id.in_(ids)))
    timing_rows = [row for c in results for row in _timing_rows(c)]
    # Core inserts (not the ORM's bulk path): these rows are never loaded as objects here.
    if timing_rows:
        await session.execute(CaseTiming.__table__.insert(), timing_rows)
    await session.execute(CaseProgress.__table__.insert(), [_progress_row(c) for c in results])
    statuses = [
        {"case": c.case_id, "stage": s}
        for c in results
        if (s := stage(c.timeline, c.log.dispatches, c.log.reviews)) is not None
    ]
    if statuses:
        cases = Case.__table__
        await session.execute(
            update(cases)
            .where(cases.c.id == bindparam("case"), cases.c.status != "closed")
            .values(status=bindparam("stage")),
            statuses,
        )
    newest: dict[int, tuple[Event, str]] = {}
    for c in results:
        for surveyor_id, event in _positions(c).items():
            held = newest.get(surveyor_id)
            if held is None or (event.time, event.packet_id) > (held[0].time, held[0].packet_id):
                newest[surveyor_id] = (event, c.case_id)
    await _keep_newest_positions(session, newest)


# The upsert of last known positions, built once per backend (every group of pushes with
# a fix in it runs it).
_position_upserts: dict[str, Any] = {}


async def _keep_newest_positions(
    session: AsyncSession, newest: dict[int, tuple[Event, str]]
) -> None:
    """Each surveyor's last known position: replaced only by a later fix (one statement
    for all of them)."""
    if not newest:
        return
    upsert = _position_upserts.get(session.bind.dialect.name)
    if upsert is None:
        stmt = insert(session, SurveyorPosition)
        held = SurveyorPosition.__table__.c
        newer = or_(
            stmt.excluded.at > held.at,
            and_(stmt.excluded.at == held.at, stmt.excluded.packet_id > held.packet_id),
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=["surveyor_id"],
            set_={k: stmt.excluded[k] for k in ("lat", "lon", "at", "packet_id", "case_id")},
            where=newer,
        )
        _position_upserts[session.bind.dialect.name] = upsert
    rows = [
        dict(
            surveyor_id=surveyor_id,
            lat=event.lat,
            lon=event.lon,
            at=event.time,
            packet_id=event.packet_id,
            case_id=case_id,
        )
        for surveyor_id, (event, case_id) in sorted(newest.items())
    ]
    await (await session.connection()).execute(upsert, rows)


async def record_track(session: AsyncSession, rows: Iterable[Any], *, stale_fix: timedelta) -> None:
    """Move surveyors' last known positions on from newly accepted track packets (rows with
    the attributes of a Packet row), without recalculating timings no track can change."""
    newest: dict[int, tuple[Event, str]] = {}
    for row in rows:
        if row.lat is None or row.lon is None:
            continue
        event = to_event(row, stale_fix)
        held = newest.get(event.surveyor_id)
        if held is None or (event.time, event.packet_id) > (held[0].time, held[0].packet_id):
            newest[event.surveyor_id] = (event, row.case_id)
    await _keep_newest_positions(session, newest)


async def recalc_cases(
    session: AsyncSession,
    case_ids: Collection[str],
    *,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
    track: bool = False,
) -> list[Computed]:
    """Recompute and store the timings of these cases inside the caller's transaction;
    held packets join when a dispatch to their sender follows within `irregular_window`.

    The track (position packets) is read only when asked (`kancha recalc` rebuilding last
    known positions): timings never depend on it, and pushes record it via record_track.
    """
    ids = sorted(set(case_ids))
    if not ids:
        return []
    await lock_cases(session, ids)
    logs = await load_logs(session, ids, track=track)
    results = [
        compute(case_id, logs[case_id], tiers, irregular_window, stale_fix)
        for case_id in ids
        if case_id in logs
    ]
    await store(session, results)
    return results


async def recalc_everything(
    sessions: async_sessionmaker[AsyncSession] | Any,
    *,
    tiers: Tiers,
    irregular_window: timedelta,
    stale_fix: timedelta,
    batch: int = 500,
) -> dict[str, float]:
    """Recompute every case from the log, `batch` cases per transaction (`kancha recalc`)."""
    started = time.perf_counter()
    async with sessions() as session:
        all_ids = list(await session.scalars(select(Case.id).order_by(Case.id)))
    events = 0
    for start in range(0, len(all_ids), batch):
        async with sessions() as session:
            chunk = all_ids[start : start + batch]
            results = await recalc_cases(
                session,
                chunk,
                tiers=tiers,
                irregular_window=irregular_window,
                stale_fix=stale_fix,
                track=True,
            )
            events += sum(len(c.timeline) for c in results)
            await session.commit()
    seconds = time.perf_counter() - started
    return {"cases": len(all_ids), "events": events, "seconds": seconds}
