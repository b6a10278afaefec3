"""`kancha serve` with a setting it cannot use: one line naming the setting and what is
wrong, exit status 2, no traceback, and no server."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL
from tests.live import clean_env, run_kancha


def serve_refused(tmp_path, **env: str) -> str:
    result = run_kancha("serve", "--port", "1", env=clean_env(**env), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"KANCHA_MEDIA_URL": "ftp://host/media"},
            "kancha: KANCHA_MEDIA_URL: expected file:///path or s3://bucket/prefix, "
            "got 'ftp://host/media'",
        ),
        (
            {"KANCHA_DATABASE_URL": "postgresql://kancha@127.0.0.1/kancha"},
            "kancha: KANCHA_DATABASE_URL: needs the async driver: write postgresql+asyncpg://...",
        ),
        (
            {"KANCHA_DATABASE_URL": "not a url"},
            "kancha: KANCHA_DATABASE_URL: not a database URL (e.g. postgresql+asyncpg://user@host/db)",
        ),
        (
            {"KANCHA_PUSH_CONCURRENCY": "three"},
            "kancha: KANCHA_PUSH_CONCURRENCY: expected a whole number, got 'three'",
        ),
        (
            {"KANCHA_CLOCK_SPEED": "fast"},
            "kancha: KANCHA_CLOCK_SPEED: expected a number, got 'fast'",
        ),
        (
            {"KANCHA_DATA_DIR": "/proc/kancha"},
            "kancha: KANCHA_DATA_DIR: cannot create /proc/kancha: No such file or directory",
        ),
        (
            {"KANCHA_PUSH_GROUP_PACKETS": "20000"},
            "kancha: KANCHA_PUSH_GROUP_PACKETS: Expected `int` <= 10000",
        ),
        (
            {"KANCHA_MAX_BATCH_PACKETS": "0"},
            "kancha: KANCHA_MAX_BATCH_PACKETS: Expected `int` >= 1",
        ),
    ],
    ids=[
        "media-url",
        "postgresql-without-asyncpg",
        "database-url",
        "number",
        "float",
        "data-dir",
        "group-packets-bound",
        "batch-packets-bound",
    ],
)
def test_unusable_setting_is_one_line(tmp_path, env, expected):
    assert serve_refused(tmp_path, **env) == expected


def test_missing_postgresql_database_is_one_line(tmp_path):
    if not PG_ADMIN_URL:
        pytest.skip("needs KANCHA_TEST_DATABASE_URL")
    url = make_url(PG_ADMIN_URL).set(database="kancha_no_such_database")
    line = serve_refused(tmp_path, KANCHA_DATABASE_URL=url.render_as_string(hide_password=False))
    assert line.startswith("kancha: KANCHA_DATABASE_URL: cannot open ")
    assert line.endswith('database "kancha_no_such_database" does not exist')


def test_unreachable_database_is_one_line(tmp_path):
    line = serve_refused(
        tmp_path, KANCHA_DATABASE_URL="postgresql+asyncpg://kancha:secret@127.0.0.1:1/kancha"
    )
    assert line.startswith(
        "kancha: KANCHA_DATABASE_URL: cannot open "
        "postgresql+asyncpg://kancha:***@127.0.0.1:1/kancha: "
    )
    assert "secret" not in line
