"""Background jobs (thumbnails, recalculation) in the server's own processes
(KANCHA_RUN_JOBS, the default) or in separate `kancha worker` processes.

Any number of them may run over one PostgreSQL database: jobs are leased (cases/jobs.py),
so each is done once and a dead worker's jobs are taken up when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from cases.clock import Clock, SystemClock
from cases.jobs import RecalcRules, RecalcWorker
from media.runtime import MediaRuntime, media_runtime, running
from server.db import Database, alembic_config, shown_url
from server.settings import Settings, SettingsError


@contextlib.asynccontextmanager
async def working(
    settings: Settings,
    media: MediaRuntime,
    database: Database,
    clock: Clock,
    rules: RecalcRules,
    *,
    sweeper: bool = True,
) -> AsyncIterator[None]:
    """The media sweeper, and when KANCHA_RUN_JOBS says so the job workers, until the end."""
    jobs = settings.run_jobs
    recalc = RecalcWorker(
        database,
        rules,
        clock,
        SystemClock(),
        worker_id=media.worker.worker_id,
        lease=timedelta(seconds=settings.job_lease_seconds),
        poll_seconds=settings.job_poll_seconds,
    )
    async with running(media, database, clock, sweeper=sweeper, jobs=jobs):
        task = asyncio.create_task(recalc.run_forever(), name="recalc-worker") if jobs else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def schema_is_current(database: Database) -> bool:
    """Whether the database is at the newest migration (a worker never migrates: the
    upgrade is run once, before the workers start)."""
    script = ScriptDirectory.from_config(alembic_config(database.url))

    def current(sync_conn: Any) -> set[str]:
        return set(MigrationContext.configure(sync_conn).get_current_heads())

    async with database.engine.connect() as conn:
        heads = await conn.run_sync(current)
    return heads == set(script.get_heads())


async def run_worker(settings: Settings, clock: Clock, rules: RecalcRules) -> None:
    """`kancha worker`: do jobs until SIGTERM or SIGINT (a job cut short is rolled back
    and taken up again when its lease runs out), whatever KANCHA_RUN_JOBS says."""
    settings = msgspec.structs.replace(settings, run_jobs=True)
    database = Database(settings.resolved_database_url)
    try:
        if not await schema_is_current(database):
            raise SettingsError(
                f"KANCHA_DATABASE_URL: {shown_url(database.url)} is not at the newest"
                " migration: run `kancha db upgrade` once first"
            )
        media = media_runtime(settings, database, clock)
        await media.store.check()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        worker = dict(settings=settings, media=media, database=database, clock=clock, rules=rules)
        async with working(**worker, sweeper=False):  # type: ignore[arg-type]
            print(
                f"kancha worker {media.worker.worker_id}: jobs of {shown_url(database.url)}",
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()
    finally:
        await database.dispose()
