"""Desk login: a password set by an admin, an HttpOnly SameSite=Strict session cookie that
survives a restart and expires, CSRF on every form, logout; a desk session never authorises
sync, and on the API it only reads."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from cases.models import DeskSession, User
from server.app import create_app
from tests.desk.helpers import PASSWORD, csrf_of_page, hidden, log_in, with_password
from tests.factories import count


async def test_a_page_without_a_session_sends_the_browser_to_log_in(client):
    response = await client.get("/board?zone=city", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fboard%3Fzone%3Dcity"
    login = await client.get("/login?next=/board")
    assert login.status_code == 200 and 'name="password"' in login.text
    assert 'value="/board"' in login.text


async def test_log_in_opens_the_board_with_a_strict_httponly_cookie(client, tokens, db):
    await with_password(db, "disp")
    response = await log_in(client, "disp", next_="/board")
    assert response.status_code == 303 and response.headers["location"] == "/board"
    cookie = response.headers["set-cookie"]
    assert "kancha_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie  # plain http in tests: Secure only over HTTPS
    board = await client.get("/board")
    assert board.status_code == 200 and "disp" in board.text
    async with db.session(write=False) as session:
        (row,) = (await session.scalars(select(DeskSession))).all()
    assert len(row.id) == 64 and row.id not in cookie  # only the token's hash is stored


async def test_wrong_password_unknown_user_and_surveyors_are_refused(client, tokens, db):
    await with_password(db, "disp")
    assert (await log_in(client, "disp", "not the password")).status_code == 401
    assert (await log_in(client, "nobody")).status_code == 401
    refused = await log_in(client, "sv1")  # surveyors have no desk login at all
    assert refused.status_code == 401
    assert "Wrong user name or password" in refused.text
    assert await count(db, DeskSession) == 0


async def test_a_login_post_without_its_form_token_is_refused(client, tokens, db):
    await with_password(db, "disp")
    response = await client.post(
        "/login", data={"username": "disp", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert await count(db, DeskSession) == 0


async def test_forms_need_the_sessions_csrf_token_and_logout_ends_it(client, tokens, db):
    await with_password(db, "disp")
    await log_in(client, "disp")
    refused = await client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    wrong = await client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert await count(db, DeskSession) == 1
    token = await csrf_of_page(client)
    bye = await client.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert bye.status_code == 303 and bye.headers["location"] == "/login"
    assert await count(db, DeskSession) == 0
    assert (await client.get("/board", follow_redirects=False)).status_code == 303


async def test_the_session_reads_the_api_but_never_syncs_or_writes(client, tokens, db):
    await with_password(db, "disp")
    await log_in(client, "disp")
    assert (await client.get("/v1/board")).status_code == 200  # a photo URL works the same
    pull = await client.get("/v1/sync/pull")
    assert pull.status_code == 401 and "sync" in pull.json()["detail"]
    write = await client.post("/v1/cases", json={})
    assert write.status_code == 401 and "only reads" in write.json()["detail"]


async def test_sessions_survive_a_restart_and_expire(client, tokens, db, settings, clock):
    await with_password(db, "rev")
    await log_in(client, "rev")
    cookie = client.cookies.get("kancha_session")
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as restarted:
        restarted.cookies.set("kancha_session", cookie)
        assert (await restarted.get("/cases", follow_redirects=False)).status_code != 303
        clock.advance(seconds=settings.desk_session_seconds + 1)
        expired = await restarted.get("/", follow_redirects=False)
        assert expired.status_code == 303 and expired.headers["location"].startswith("/login")


async def test_revoked_users_lose_their_session(client, tokens, db, clock):
    await with_password(db, "disp")
    await log_in(client, "disp")
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.name == "disp"))
        user.revoked_at = clock.now() - timedelta(seconds=1)
        await session.commit()
    assert (await client.get("/board", follow_redirects=False)).status_code == 303


async def test_language_follows_the_browser_and_the_switch(client):
    zh = await client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "登录" in zh.text and 'lang="zh-CN"' in zh.text
    en = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Log in" in en.text
    switched = await client.get("/lang/zh?next=/login", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    again = await client.get("/login", headers={"Accept-Language": "en"})
    assert "登录" in again.text  # the switch wins over the browser
    outside = await client.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert outside.headers["location"] == "/"  # never an open redirect


def test_kancha_user_add_password_reads_stdin(tmp_path):
    env = {"KANCHA_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "server.cli", "user", "add", "ma", "--role", "admin"]
    done = subprocess.run(
        [*run, "--password"], input="eight chars ok\n", env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    short = subprocess.run(
        [sys.executable, "-m", "server.cli", "user", "password", "ma"],
        input="short\n",
        env=env,
        capture_output=True,
        text=True,
    )
    assert short.returncode == 2 and "8 to 200 characters" in short.stderr
    surveyor = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "user",
            "add",
            "li",
            "--role",
            "surveyor",
            "--password",
        ],
        input="eight chars ok\n",
        env=env,
        capture_output=True,
        text=True,
    )
    assert surveyor.returncode == 2 and "no desk login" in surveyor.stderr


def test_hidden_helper_reads_a_field():
    assert hidden('<input type="hidden" name="csrf" value="abc">', "csrf") == "abc"


async def test_over_https_the_session_cookie_is_secure(app, tokens, db):
    await with_password(db, "disp")
    async with AsyncTestClient(app=app, base_url="https://desk.example") as secure:
        response = await log_in(secure, "disp")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "kancha_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
