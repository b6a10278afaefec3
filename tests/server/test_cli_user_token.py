"""`kancha user token NAME` replaces a user's token; `user add` names the database it wrote."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from tests.factories import bearer
from tests.live import clean_env, run_kancha


def kancha_env(tmp_path, database_url):
    return clean_env(KANCHA_DATA_DIR=str(tmp_path / "data"), KANCHA_DATABASE_URL=database_url)


async def test_user_token_replaces_the_old_token(tmp_path, database_url, client):
    env = kancha_env(tmp_path, database_url)
    added = run_kancha("user", "add", "zhao", "--role", "reviewer", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    old = added.stdout.strip().splitlines()[-1]
    assert (await client.get("/v1/review/queue", headers=bearer(old))).status_code == 200

    issued = run_kancha("user", "token", "zhao", env=env, cwd=tmp_path)
    assert issued.returncode == 0, issued.stderr
    new = issued.stdout.strip().splitlines()[-1]
    assert new.startswith("kt_") and new != old
    assert (await client.get("/v1/review/queue", headers=bearer(old))).status_code == 401
    assert (await client.get("/v1/review/queue", headers=bearer(new))).status_code == 200
    assert "zhao\treviewer\tactive" in run_kancha("user", "list", env=env, cwd=tmp_path).stdout


async def test_user_add_names_the_database_before_the_token(tmp_path, database_url):
    env = kancha_env(tmp_path, database_url)
    added = run_kancha("user", "add", "qian", "--role", "surveyor", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    *before, token = added.stdout.strip().splitlines()
    shown = make_url(database_url).render_as_string(hide_password=True)
    assert any(shown in line for line in before), added.stdout
    assert token.startswith("kt_") and " " not in token


def test_user_token_for_an_unknown_user_is_one_line(tmp_path, database_url):
    env = kancha_env(tmp_path, database_url)
    result = run_kancha("user", "token", "nobody", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "kancha: no user named 'nobody'"
    assert result.stdout == ""
