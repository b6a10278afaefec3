"""The `kancha` command as a newcomer runs it: serve, user add/list/revoke, db upgrade."""

from __future__ import annotations

import httpx

from tests.factories import bearer, case_body
from tests.live import clean_env, run_kancha, running_server


async def test_user_add_prints_a_working_token_last(tmp_path, database_url, client):
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)
    added = run_kancha("user", "add", "wang", "--role", "dispatcher", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    response = await client.post("/v1/cases", json=case_body(), headers=bearer(token))
    assert response.status_code == 201

    listed = run_kancha("user", "list", env=env, cwd=tmp_path)
    assert "wang\tdispatcher\tactive" in listed.stdout
    assert token not in listed.stdout

    revoked = run_kancha("user", "revoke", "wang", env=env, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    response = await client.post("/v1/cases", json=case_body(), headers=bearer(token))
    assert response.status_code == 401
    assert "revoked" in run_kancha("user", "list", env=env, cwd=tmp_path).stdout


async def test_user_add_refuses_bad_role_and_duplicates(tmp_path, database_url):
    env = clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)
    bad = run_kancha("user", "add", "li", "--role", "boss", env=env, cwd=tmp_path)
    assert bad.returncode != 0 and "--role" in bad.stderr
    assert (
        run_kancha("user", "add", "li", "--role", "surveyor", env=env, cwd=tmp_path).returncode == 0
    )
    again = run_kancha("user", "add", "li", "--role", "surveyor", env=env, cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    missing = run_kancha("user", "revoke", "nobody", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "no user named" in missing.stderr


def test_bad_setting_is_named(tmp_path):
    env = clean_env(KANCHA_MAX_BATCH_PACKETS="many")
    result = run_kancha("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "KANCHA_MAX_BATCH_PACKETS" in result.stderr


def test_db_upgrade_creates_the_embedded_default(tmp_path):
    result = run_kancha("db", "upgrade", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "kancha-data" / "kancha.db").is_file()
    # a second upgrade is a no-op
    assert run_kancha("db", "upgrade", env=clean_env(), cwd=tmp_path).returncode == 0


def test_serve_with_no_configuration(tmp_path):
    """The README's first command: a fresh directory, no settings, /health answers."""
    with running_server({}, tmp_path) as server:  # no KANCHA_* at all
        assert httpx.get(f"{server.url}/health").status_code == 200
        assert (tmp_path / "kancha-data" / "kancha.db").is_file()
        openapi = httpx.get(f"{server.url}/schema/openapi.json")
        assert openapi.status_code == 200 and "/v1/cases" in openapi.json()["paths"]
