"""A real `kancha serve` process for tests that need real connections (races, crashes,
stock clients such as tuspy or schemathesis)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`kancha serve` on a free port over the given settings, restartable after a kill -9."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
        self.env.update(env)
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cwd / f"server-{self.port}.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for _ in range(600):  # bounded wait for start-up, not a timed assertion
            if self.proc.poll() is not None:
                pytest.fail(f"server exited at start:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        pytest.fail(f"server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        """kill -9: no chance to flush or clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running_server(settings_env: dict[str, str], cwd: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(settings_env, cwd)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_process(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A live server over this test's database (SQLite or PostgreSQL) and data dir."""
    env = {"KANCHA_DATA_DIR": str(tmp_path / "data"), "KANCHA_DATABASE_URL": database_url}
    with running_server(env, tmp_path) as server:
        yield server


@pytest.fixture
def live_server(server_process: ServerProcess, tokens) -> tuple[str, dict]:
    """(base URL, tokens) of a live server whose users are those of the `tokens` fixture."""
    return server_process.url, tokens


KANCHA = [sys.executable, "-m", "server.cli"]


def run_kancha(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KANCHA, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANCHA_")}
    env.update(extra)
    return env
