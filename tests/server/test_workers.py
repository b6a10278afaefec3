"""Many workers: `kancha serve --workers N` behind one port, `kancha worker` processes
sharing the job tables, readiness and the access log. Real processes over a real
database; the waits are bounded polls, never timed assertions."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from cases.jobs import queue_recalc
from cases.models import Case, CaseTiming, Job
from media.models import ThumbnailJob
from media.store import FileStore, object_key
from server.app import create_app
from server.settings import Settings
from tests.cases.test_jobs import dispatched_cases
from tests.factories import count
from tests.live import ServerProcess, clean_env, free_port, run_kancha
from tests.media.samples import photo, sha
from tests.media.test_thumbnails import store_without_thumbnails

ACCESS_FIELDS = {"time", "method", "path", "status", "duration_ms", "pid", "user_id"}


def needs_postgresql(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several processes over one database: PostgreSQL")


def access_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


class MultiServer(ServerProcess):
    """`kancha serve --workers N`."""

    def __init__(self, env: dict[str, str], cwd: Path, workers: int) -> None:
        super().__init__(env, cwd)
        self.workers = workers

    def start(self) -> None:
        with open(self.log, "ab") as log:
            args = ["serve", "--port", str(self.port), "--workers", str(self.workers)]
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", *args],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for _ in range(1200):  # bounded wait for start-up (spawned workers import all)
            if self.proc.poll() is not None:
                pytest.fail(f"server exited at start:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"server did not start:\n{self.log.read_text()}")


class Worker:
    """A `kancha worker` process; `worker_id` once it has said it is working."""

    def __init__(self, env: dict[str, str], cwd: Path, name: str) -> None:
        self.log = cwd / f"worker-{name}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "worker"],
                env=clean_env(**env),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.worker_id = self._wait_started()

    def _wait_started(self) -> str:
        for _ in range(1200):
            for line in self.log.read_text().splitlines():
                if line.startswith("kancha worker "):
                    return line.split()[2].rstrip(":")
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited at start:\n{self.log.read_text()}")
            time.sleep(0.05)
        pytest.fail(f"worker did not start:\n{self.log.read_text()}")

    def done_lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if " done by " in line]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        assert self.proc.returncode in (0, -9), self.log.read_text()


def env_of(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "KANCHA_DATA_DIR": str(tmp_path / "data"),
        "KANCHA_DATABASE_URL": database_url,
        "KANCHA_JOB_POLL_SECONDS": "0.05",
        "KANCHA_THUMBNAIL_POLL_SECONDS": "0.05",
        **extra,
    }


async def wait_for(check, tries: int = 2400) -> None:
    """Bounded wait for background work, not a timed assertion."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("background work did not finish")


def all_jobs_settled(db):
    async def check() -> bool:
        async with db.session(write=False) as session:
            jobs = await session.scalar(
                select(text("count(*)")).select_from(Job).where(Job.status == "pending")
            )
            thumbs = await session.scalar(
                select(text("count(*)"))
                .select_from(ThumbnailJob)
                .where(ThumbnailJob.status == "pending")
            )
        return jobs == 0 and thumbs == 0

    return check


# -- serve --workers ----------------------------------------------------------------------


def test_serve_workers_2_answers_on_one_port_from_two_pids(database_url, tmp_path):
    needs_postgresql(database_url)
    env = env_of(database_url, tmp_path, KANCHA_ACCESS_LOG="true")
    server = MultiServer(env, tmp_path, workers=2)
    server.start()
    try:
        for _ in range(2400):  # the first process answers; wait for the second to start too
            if server.log.read_text().count("Application startup complete") == 2:
                break
            time.sleep(0.05)
        pids: set[int] = set()
        for _ in range(50):  # bounded: the kernel spreads new connections over both
            with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as http:
                for _ in range(20):
                    assert http.get(f"{server.url}/healthz").status_code == 200
            pids = {line["pid"] for line in access_lines(server.log)}
            if len(pids) >= 2:
                break
        assert len(pids) == 2, server.log.read_text()
        assert all(set(line) == ACCESS_FIELDS for line in access_lines(server.log))
        assert server.proc.pid not in pids  # the parent only hands the socket on
    finally:
        server.stop()


def test_serve_workers_above_1_is_refused_on_sqlite(tmp_path):
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"))
    result = run_kancha(
        "serve", "--workers", "2", "--port", str(free_port()), env=env, cwd=tmp_path
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--workers 2 needs PostgreSQL" in lines[0]
    assert "SQLite takes one writer per file" in lines[0]
    assert not (tmp_path / "data").exists()  # refused before touching anything


# -- kancha worker: leases ----------------------------------------------------------------


async def test_a_job_of_a_killed_worker_is_done_once_by_another(
    database_url, tmp_path, db, tokens, clock
):
    needs_postgresql(database_url)
    case_ids = await dispatched_cases(db, clock.now(), 2)
    env = env_of(database_url, tmp_path, KANCHA_JOB_LEASE_SECONDS="1")
    # The test holds the cases' rows locked, so worker A, having leased the job, waits
    # inside it until it is killed.
    blocker = db.session()
    await blocker.execute(select(Case.id).where(Case.id.in_(case_ids)).with_for_update())
    a = Worker(env, tmp_path, "a")
    async with db.session() as session:
        await queue_recalc(session, clock.now(), batch=10)
        await session.commit()

    async def leased_to_a() -> bool:
        async with db.session(write=False) as session:
            job = await session.scalar(select(Job))
        return job.worker_id == a.worker_id

    await wait_for(leased_to_a)
    a.kill()
    await blocker.rollback()
    await blocker.close()
    assert await count(db, CaseTiming) == 0  # A died before its transaction committed
    b = Worker(env, tmp_path, "b")
    try:
        await wait_for(all_jobs_settled(db))
    finally:
        b.stop()
    async with db.session(write=False) as session:
        job = await session.scalar(select(Job))
    assert (job.status, job.worker_id, job.attempts) == ("done", b.worker_id, 2)
    assert await count(db, CaseTiming, CaseTiming.case_id.in_(case_ids)) >= 2
    assert a.done_lines() == [] and len(b.done_lines()) == 1


async def test_two_workers_racing_do_each_job_once(
    database_url, tmp_path, db, tokens, clock, settings
):
    needs_postgresql(database_url)
    await dispatched_cases(db, clock.now(), 60)
    store = FileStore(settings.data_path / "media")
    photos = [photo(seed=100 + i) for i in range(6)]
    env = env_of(database_url, tmp_path)
    workers = [Worker(env, tmp_path, "one"), Worker(env, tmp_path, "two")]
    try:
        async with db.session() as session:  # all at once, both workers polling
            await queue_recalc(session, clock.now(), batch=1)
            await session.commit()
        for data in photos:
            await store_without_thumbnails(db, store, data, clock.now())
        await wait_for(all_jobs_settled(db))
    finally:
        for w in workers:
            w.stop()
    async with db.session(write=False) as session:
        jobs = (await session.scalars(select(Job))).all()
        thumbs = (await session.scalars(select(ThumbnailJob))).all()
    assert len(jobs) == 60 and {j.status for j in jobs} == {"done"}
    assert {t.status for t in thumbs} == {"done"} and len(thumbs) == len(photos)
    done = [line for w in workers for line in w.done_lines()]
    done_jobs = [line.split(" done by ")[0].split()[-1] for line in done]
    assert len(done_jobs) == len(set(done_jobs)) == 60 + len(photos)  # each once
    by = {w.worker_id: w.done_lines() for w in workers}
    assert all(by.values()), "both workers took part in the race"
    assert {j.worker_id for j in jobs} <= set(by)
    for data in photos:
        assert await store.exists(object_key(sha(data), "small"))


# -- readiness and the access log ---------------------------------------------------------


async def test_readiness_when_database_and_store_answer(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "store": "ok"}}
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readiness_fails_when_the_database_is_unreachable(tmp_path):
    from litestar.testing import AsyncTestClient

    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/kancha"
    settings = Settings(data_dir=str(tmp_path / "data"), database_url=nowhere, run_jobs=False)
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["detail"].startswith("not ready: database: ")
        assert body["extra"]["store"] == "ok" and body["extra"]["database"] != "ok"
        assert (await client.get("/healthz")).status_code == 200  # alive all the same


def test_the_access_log_is_one_json_line_per_request(database_url, tmp_path, tokens):
    if not database_url.startswith("sqlite"):
        pytest.skip("no database in it: on PostgreSQL the --workers 2 test reads its lines")
    env = env_of(database_url, tmp_path, KANCHA_ACCESS_LOG="true")
    server = ServerProcess(env, tmp_path)
    server.start()
    try:
        http = httpx.Client(base_url=server.url)
        assert http.get("/v1/board?token=s3cret", headers=tokens["disp"]).status_code == 200
        assert http.get("/v1/board").status_code == 401
    finally:
        server.stop()
    lines = access_lines(server.log)
    board = [line for line in lines if line["path"] == "/v1/board"]
    assert [set(line) for line in board] == [ACCESS_FIELDS, ACCESS_FIELDS]
    seen, anonymous = board
    assert (seen["method"], seen["status"], anonymous["status"]) == ("GET", 200, 401)
    assert isinstance(seen["user_id"], int) and anonymous["user_id"] is None
    assert seen["pid"] == anonymous["pid"] == server.proc.pid
    assert seen["duration_ms"] >= 0 and seen["time"].endswith("Z")
    assert "s3cret" not in server.log.read_text()
    assert "GET /v1/board" not in server.log.read_text()  # uvicorn's own line is off


async def test_recalc_queue_puts_the_cases_in_jobs(database_url, tmp_path, db, tokens, clock):
    await dispatched_cases(db, clock.now(), 5)
    env = clean_env(**env_of(database_url, tmp_path))
    result = run_kancha("recalc", "--queue", "--batch", "2", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "queued 3 recalculation jobs of up to 2 cases"
    async with db.session(write=False) as session:
        jobs = (await session.scalars(select(Job).order_by(Job.id))).all()
    assert [len(json.loads(j.payload)["case_ids"]) for j in jobs] == [2, 2, 1]
    assert {j.status for j in jobs} == {"pending"} and await count(db, CaseTiming) == 0


def test_a_worker_refuses_a_database_not_migrated(tmp_path):
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kancha.db").touch()  # an empty database: no migration applied
    result = run_kancha("worker", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "is not at the newest migration: run `kancha db upgrade` once first" in result.stderr
