"""Helpers of the chain tests: a short history pushed over HTTP, `kancha` run as a
command, and rows edited behind kancha's back (the append-only triggers side-stepped, as
someone with the database's own credentials could)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from media.store import object_key, open_store
from server.cli import build_parser
from server.settings import Settings
from tests.conftest import run_blocking
from tests.factories import dispatched_case, new_id, packet, push, push_body
from tests.live import clean_env, run_kancha
from tests.media.helpers import upload
from tests.media.samples import photo, sha


@dataclass
class History:
    case_id: str
    device_id: str
    packet_ids: list[str]  # in settlement order: accepted, photo, note, rejected
    photo_sha: str


async def pushed_history(client, tokens) -> History:
    """Two pushes and a re-send from one tablet: three packets taken (one a photo), one
    rejected (unknown case); the re-send adds nothing to the chain."""
    case_id = (await dispatched_case(client, tokens))["id"]
    device = new_id()
    data = photo(seed=7)
    await upload(client, tokens["sv1"], data)
    first = [
        packet(case_id, 1, "accepted"),
        packet(case_id, 2, "photo", media=[sha(data), sha(data)], data={"category": "damage"}),
    ]
    second = [packet(case_id, 3, "note", data={"text": "bumper"}), packet("no-such-case", 4)]
    for batch in (first, second, first):
        response = await push(client, tokens["sv1"], push_body(device, batch))
        assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["duplicate", "duplicate"]
    ids = [p["packet_id"] for p in first + second]
    return History(case_id, device, ids, sha(data))


def kancha_command(settings: Settings, *args: str, cwd: Path):
    """`kancha ARGS` as a process, on the test's database and data dir."""
    env = clean_env(KANCHA_DATA_DIR=settings.data_dir, KANCHA_DATABASE_URL=settings.database_url)
    return run_kancha(*args, env=env, cwd=cwd)


def kancha(settings: Settings, *args: str, cwd: Path | None = None):
    """The same command run in this process (the same code from its parsed arguments on,
    without a Python start-up per call), its output captured."""
    parsed = build_parser().parse_args(list(args))
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with redirect_stdout(out), redirect_stderr(err):
            return parsed.func(settings, parsed)

    code = run_blocking(run)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


async def behind_kancha(database_url: str, sql: str, **params) -> None:
    """Run `sql` on the database directly, past the packet log's append-only triggers."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                await conn.execute(text("DROP TRIGGER IF EXISTS packets_no_update"))
                await conn.execute(text("DROP TRIGGER IF EXISTS packets_no_delete"))
            else:  # this transaction only: no trigger fires (superuser)
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


def swap_photo(settings: Settings, sha256: str, data: bytes) -> None:
    """Replace a stored photo's bytes in the (file) store, kancha none the wiser."""
    store = open_store(settings.resolved_media_url, settings.data_path / "staging")
    path = store.local_path(object_key(sha256))
    assert path is not None and path.is_file()
    path.write_bytes(data)
