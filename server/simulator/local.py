"""A server of the simulator's own: a temporary embedded default (SQLite and media in a temp
dir) started as `kancha serve` on a free port, on the same compressed clock as the tablets."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from server.db import Database, migrate_url
from server.settings import Settings
from sync.users import create_user


class ServerFailed(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_users(database_url: str, users: list[tuple[str, str]], now: datetime) -> dict:
    """What `kancha user add` does, for each (name, role): name -> token."""
    migrate_url(database_url)

    async def run() -> dict[str, str]:
        database = Database(database_url)
        try:
            async with database.session() as session:
                tokens = {name: await create_user(session, name, role, now) for name, role in users}
                await session.commit()
                return tokens
        finally:
            await database.dispose()

    return asyncio.run(run())


@contextmanager
def own_server(
    data_dir: Path, database_url: str, start: datetime, speed: float, anchor: datetime
) -> Iterator[str]:
    settings = Settings(data_dir=str(data_dir), database_url=database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    env.update(
        KANCHA_DATA_DIR=str(data_dir),
        KANCHA_DATABASE_URL=settings.resolved_database_url,
        KANCHA_CLOCK_SPEED=repr(speed),
        KANCHA_CLOCK_START=start.isoformat(),
        KANCHA_CLOCK_ANCHOR=anchor.isoformat(),
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(proc, url, log_path)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"the server exited at start:\n{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise ServerFailed(f"the server did not start in 60 s:\n{log_path.read_text()[-2000:]}")


def read_users_file(path: Path) -> dict[str, tuple[str, str]]:
    """Lines of `name role token` (as `kancha user add` prints them): name -> (role, token)."""
    users = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ValueError(f"{path}:{number}: expected `name role token`")
        users[parts[0]] = (parts[1], parts[2])
    return users
