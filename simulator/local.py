"""A server of the simulator's own: a temporary embedded default (SQLite and media in a temp
dir) started as `kancha serve` on a free port, on the same compressed clock as the tablets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx


class ServerFailed(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    env.update(KANCHA_DATA_DIR=str(data_dir), KANCHA_DATABASE_URL=database_url)
    return env


def _kancha(*args: str) -> list[str]:
    return [sys.executable, "-m", "server.cli", *args]


def create_users(data_dir: Path, database_url: str, users: list[tuple[str, str]]) -> dict:
    """`kancha user add` for each (name, role), as an operator would: name -> token."""
    env = _server_env(data_dir, database_url)
    subprocess.run(_kancha("db", "upgrade"), env=env, check=True, capture_output=True)

    def add(user: tuple[str, str]) -> str:
        name, role = user
        done = subprocess.run(
            _kancha("user", "add", name, "--role", role), env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise ServerFailed(f"kancha user add {name}: {done.stderr.strip()}")
        return done.stdout.strip().splitlines()[-1]  # the token is the last line

    with ThreadPoolExecutor(4) as pool:
        return dict(zip((name for name, _ in users), pool.map(add, users), strict=True))


@contextmanager
def own_server(
    data_dir: Path, database_url: str, start: datetime, speed: float, anchor: datetime
) -> Iterator[str]:
    env = _server_env(data_dir, database_url)
    env.update(
        KANCHA_CLOCK_SPEED=repr(speed),
        KANCHA_CLOCK_START=start.isoformat(),
        KANCHA_CLOCK_ANCHOR=anchor.isoformat(),
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            _kancha("serve", "--port", str(port)),
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
