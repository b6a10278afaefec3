"""Background jobs shared by many worker processes: claimed under a lease, done once.

A worker claims pending jobs by writing its id and `leased_until` (on PostgreSQL the rows
are picked `FOR UPDATE SKIP LOCKED`, so two workers never claim the same row; on SQLite
the claim runs in the process's single writer). A worker that dies leaves its lease to
run out; then another claims the job. Attempts count claims, so a job whose worker keeps
dying (or that keeps failing) is marked `failed` after MAX_ATTEMPTS instead of looping.

Exactly once: a recalculation job is marked done in the same transaction as its effect,
after locking its row and checking it is still this worker's (a late worker whose lease
was taken over finds the row not its own and rolls back). Thumbnail jobs (media/) store
idempotent objects (same bytes, same key) and are then marked done under the same check.
Leases are timed by the real clock (lease_clock), never by a compressed simulated one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.limits import Tiers
from cases.models import Case, Job
from cases.recalc import recalc_cases

logger = logging.getLogger("kancha.jobs")
MAX_ATTEMPTS = 3
RECALC = "recalc"


def new_worker_id() -> str:
    """Host, pid and a random tail: unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _available(table: Table, now: datetime) -> Any:
    c = table.c
    return and_(c.status == "pending", or_(c.leased_until.is_(None), c.leased_until < now))


async def claim(
    session: AsyncSession,
    table: Table,
    *,
    key: str,
    order: Sequence[Any],
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[tuple[Any, int]]:
    """Lease up to `limit` pending jobs of `table` (primary key column `key`) to this
    worker, in the caller's transaction; their (key, attempts so far). Jobs whose lease ran
    out `max_attempts` times are marked failed instead."""
    c = table.c
    stmt = select(c[key], c.attempts).where(_available(table, now)).order_by(*order).limit(limit)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = (await session.execute(stmt)).all()
    spent = [k for k, attempts in rows if attempts >= max_attempts]
    if spent:
        await session.execute(
            update(table)
            .where(c[key].in_(spent))
            .values(status="failed", error="its worker stopped (lease ran out) every attempt")
        )
    taken = [(k, attempts) for k, attempts in rows if attempts < max_attempts]
    if taken:
        await session.execute(
            update(table)
            .where(c[key].in_([k for k, _ in taken]))
            .values(worker_id=worker_id, leased_until=now + lease, attempts=c.attempts + 1)
        )
    return taken


async def still_mine(
    session: AsyncSession, table: Table, *, key: str, value: Any, worker_id: str
) -> bool:
    """Lock the job's row (PostgreSQL) and say whether it is pending and leased to us."""
    c = table.c
    stmt = select(c[key]).where(c[key] == value, c.status == "pending", c.worker_id == worker_id)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first() is not None


async def settle(
    session: AsyncSession,
    table: Table,
    *,
    key: str,
    value: Any,
    worker_id: str,
    status: str,
    error: str | None,
    finished_at: datetime | None,
) -> bool:
    """Mark a job leased to this worker done, failed or pending again (lease dropped);
    False when it is no longer ours (its lease ran out and another worker took it)."""
    c = table.c
    result = await session.execute(
        update(table)
        .where(c[key] == value, c.status == "pending", c.worker_id == worker_id)
        .values(status=status, error=error, finished_at=finished_at, leased_until=None)
    )
    return result.rowcount == 1


# -- recalculation jobs ----------------------------------------------------------------


async def queue_recalc(
    session: AsyncSession, now: datetime, *, batch: int, case_ids: Collection[str] | None = None
) -> int:
    """Queue the recalculation of these cases (default: every case), `batch` per job;
    the number of jobs queued (in the caller's transaction)."""
    if case_ids is None:
        ids = list(await session.scalars(select(Case.id).order_by(Case.id)))
    else:
        ids = sorted(set(case_ids))
    batch = max(1, batch)
    rows = [
        dict(
            kind=RECALC,
            payload=json.dumps({"case_ids": ids[i : i + batch]}),
            status="pending",
            attempts=0,
            created_at=now,
        )
        for i in range(0, len(ids), batch)
    ]
    if rows:
        await session.execute(Job.__table__.insert(), rows)
    return len(rows)


@dataclass(frozen=True)
class RecalcRules:
    tiers: Tiers
    irregular_window: timedelta
    stale_fix: timedelta


JOBS = Job.__table__


async def claim_jobs(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[tuple[int, int]]:
    return await claim(
        session,
        JOBS,
        key="id",
        order=[JOBS.c.id],
        worker_id=worker_id,
        now=now,
        lease=lease,
        limit=limit,
    )


async def run_recalc_job(
    session: AsyncSession, job_id: int, *, worker_id: str, rules: RecalcRules, now: datetime
) -> bool:
    """Do one claimed job and mark it done, in the caller's transaction (commit follows);
    False (nothing done) when the job is no longer this worker's."""
    if not await still_mine(session, JOBS, key="id", value=job_id, worker_id=worker_id):
        return False
    job = await session.get(Job, job_id)
    assert job is not None
    if job.kind != RECALC:
        raise ValueError(f"unknown job kind {job.kind!r}")
    case_ids = json.loads(job.payload)["case_ids"]
    await recalc_cases(
        session,
        case_ids,
        tiers=rules.tiers,
        irregular_window=rules.irregular_window,
        stale_fix=rules.stale_fix,
        track=True,
    )
    return await settle(
        session,
        JOBS,
        key="id",
        value=job_id,
        worker_id=worker_id,
        status="done",
        error=None,
        finished_at=now,
    )


async def fail_job(
    session: AsyncSession, job_id: int, *, worker_id: str, attempts: int, error: str, now: datetime
) -> None:
    """After a failed attempt: pending again (lease dropped), or failed after the last."""
    last = attempts >= MAX_ATTEMPTS
    await settle(
        session,
        JOBS,
        key="id",
        value=job_id,
        worker_id=worker_id,
        status="failed" if last else "pending",
        error=error[:2000],
        finished_at=now if last else None,
    )


class RecalcWorker:
    """Works through pending jobs until cancelled: claim a few (one short transaction),
    then do each in its own transaction; sleeps `poll_seconds` when there are none."""

    def __init__(
        self,
        database: Any,
        rules: RecalcRules,
        clock: Any,
        lease_clock: Any,
        *,
        worker_id: str,
        lease: timedelta,
        poll_seconds: float = 1.0,
        batch: int = 4,
    ) -> None:
        self.database, self.rules = database, rules
        self.clock, self.lease_clock = clock, lease_clock
        self.worker_id, self.lease = worker_id, lease
        self.poll_seconds, self.batch = poll_seconds, batch

    async def run_pending(self) -> int:
        """One claim and the jobs it got; the number of jobs claimed."""
        async with self.database.session() as session:
            taken = await claim_jobs(
                session,
                worker_id=self.worker_id,
                now=self.lease_clock.now(),
                lease=self.lease,
                limit=self.batch,
            )
            await session.commit()
        for job_id, attempts in taken:
            try:
                async with self.database.session() as session:
                    done = await run_recalc_job(
                        session,
                        job_id,
                        worker_id=self.worker_id,
                        rules=self.rules,
                        now=self.clock.now(),
                    )
                    await session.commit()
                if done:
                    logger.info("job %s done by %s", job_id, self.worker_id)
            except Exception as exc:
                logger.warning("job %s failed: %s", job_id, exc)
                async with self.database.session() as session:
                    await fail_job(
                        session,
                        job_id,
                        worker_id=self.worker_id,
                        attempts=attempts + 1,
                        error=f"{type(exc).__name__}: {exc}",
                        now=self.clock.now(),
                    )
                    await session.commit()
        return len(taken)

    async def run_forever(self) -> None:
        while True:
            try:
                while await self.run_pending():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the worker
                logger.exception("job worker pass failed")
            await asyncio.sleep(self.poll_seconds)
