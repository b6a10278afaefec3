"""Leased jobs (cases/jobs.py), in one process: a claimed job is no one else's until its
lease runs out; then another worker takes it, does it once, and the first one's late
attempt changes nothing. The lease clock is a FakeClock: no waiting, no timed assertion."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from cases.clock import FakeClock
from cases.jobs import (
    MAX_ATTEMPTS,
    RecalcRules,
    RecalcWorker,
    claim_jobs,
    queue_recalc,
    run_recalc_job,
)
from cases.limits import DEFAULT_TIERS
from cases.models import Case, CaseTiming, Dispatch, Job, User
from cases.timeline import DEFAULT_STALE_FIX
from tests.factories import count

RULES = RecalcRules(DEFAULT_TIERS, timedelta(hours=24), DEFAULT_STALE_FIX)
LEASE = timedelta(seconds=30)


async def dispatched_cases(db, now, n: int) -> list[str]:
    """Cases dispatched to sv1 (of the tokens fixture), written straight into the tables
    without their timings, as a change of limits leaves them to recalculate."""
    async with db.session() as session:
        surveyor = await session.scalar(select(User.id).where(User.name == "sv1"))
        desk = await session.scalar(select(User.id).where(User.name == "disp"))
        ids = []
        for i in range(n):
            case = Case(
                case_no=f"JOB-{i:04d}",
                reported_at=now - timedelta(minutes=5),
                lat=31.23,
                lon=121.47,
                address="job test",
                zone="city",
                status="dispatched",
                surveyor_id=surveyor,
                created_by=desk,
                created_at=now,
                updated_at=now,
            )
            session.add(case)
            await session.flush()
            session.add(
                Dispatch(
                    case_id=case.id, surveyor_id=surveyor, dispatched_by=desk, dispatched_at=now
                )
            )
            ids.append(case.id)
        await session.commit()
    return ids


def worker(db, name: str, clock, lease_clock) -> RecalcWorker:
    return RecalcWorker(db, RULES, clock, lease_clock, worker_id=name, lease=LEASE, batch=4)


async def job_row(db, job_id: int) -> Job:
    async with db.session(write=False) as session:
        return await session.get(Job, job_id)


async def test_a_dead_workers_job_is_taken_after_its_lease_and_done_once(db, tokens, clock):
    case_ids = await dispatched_cases(db, clock.now(), 3)
    async with db.session() as session:
        assert await queue_recalc(session, clock.now(), batch=10) == 1
        await session.commit()
    lease_clock = FakeClock()
    # Worker A claims the job and dies before doing it (its claim is all it committed).
    async with db.session() as session:
        [(job_id, attempts)] = await claim_jobs(
            session, worker_id="A", now=lease_clock.now(), lease=LEASE, limit=4
        )
        await session.commit()
    assert attempts == 0
    b = worker(db, "B", clock, lease_clock)
    assert await b.run_pending() == 0  # A's lease still runs: not B's to take
    assert (await job_row(db, job_id)).worker_id == "A"
    lease_clock.advance(seconds=31)
    assert await b.run_pending() == 1
    done = await job_row(db, job_id)
    assert (done.status, done.worker_id, done.attempts) == ("done", "B", 2)
    assert await count(db, CaseTiming, CaseTiming.case_id.in_(case_ids)) >= len(case_ids)
    # A comes back from the dead and tries its job: no longer its own, nothing is done.
    async with db.session() as session:
        assert not await run_recalc_job(
            session, job_id, worker_id="A", rules=RULES, now=clock.advance(minutes=1)
        )
        await session.commit()
    again = await job_row(db, job_id)
    assert (again.status, again.worker_id, again.finished_at) == ("done", "B", done.finished_at)
    assert await b.run_pending() == 0


async def test_each_job_is_claimed_by_one_worker_only(db, tokens, clock):
    await dispatched_cases(db, clock.now(), 12)
    async with db.session() as session:
        assert await queue_recalc(session, clock.now(), batch=1) == 12
        await session.commit()
    lease_clock = FakeClock()
    claimed: dict[str, list[int]] = {"A": [], "B": []}
    for name in ["A", "B", "A", "B"]:
        async with db.session() as session:
            got = await claim_jobs(
                session, worker_id=name, now=lease_clock.now(), lease=LEASE, limit=3
            )
            await session.commit()
        claimed[name] += [job_id for job_id, _ in got]
    assert sorted(claimed["A"] + claimed["B"]) == sorted(set(claimed["A"] + claimed["B"]))
    assert len(claimed["A"]) == len(claimed["B"]) == 6


async def test_a_job_that_keeps_failing_ends_failed_with_its_error(db, tokens, clock):
    async with db.session() as session:
        session.add(
            Job(
                kind="bogus",
                payload=json.dumps({}),
                status="pending",
                attempts=0,
                created_at=clock.now(),
            )
        )
        await session.commit()
    lease_clock = FakeClock()
    w = worker(db, "A", clock, lease_clock)
    for _ in range(MAX_ATTEMPTS):
        assert await w.run_pending() == 1  # failed attempts drop the lease: retried at once
    assert await w.run_pending() == 0
    async with db.session(write=False) as session:
        job = await session.scalar(select(Job))
    assert (job.status, job.attempts) == ("failed", MAX_ATTEMPTS)
    assert "unknown job kind 'bogus'" in job.error


async def test_a_job_whose_worker_dies_every_time_is_given_up(db, tokens, clock):
    async with db.session() as session:
        assert await queue_recalc(session, clock.now(), batch=1, case_ids=["no-such-case"]) == 1
        await session.commit()
    lease_clock = FakeClock()
    for attempt in range(MAX_ATTEMPTS):
        async with db.session() as session:
            got = await claim_jobs(
                session, worker_id=f"dies-{attempt}", now=lease_clock.now(), lease=LEASE, limit=1
            )
            await session.commit()
        assert len(got) == 1
        lease_clock.advance(seconds=31)
    async with db.session() as session:
        assert (
            await claim_jobs(session, worker_id="last", now=lease_clock.now(), lease=LEASE, limit=1)
            == []
        )
        await session.commit()
    async with db.session(write=False) as session:
        job = await session.scalar(select(Job))
    assert job.status == "failed" and "lease ran out" in job.error
