"""Admin pages: users (add, change role / team / approval limit, reset a desk password, issue
a tablet token shown once, revoke) and the devices with their rejected packets; admins only,
every form with its CSRF token, every refusal beside its form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from cases.models import DeskSession, User
from tests.desk.helpers import PASSWORD, csrf_of_page, log_in, with_password
from tests.factories import bearer, count, dispatched_case, new_id, packet, push, push_body

NEW_PASSWORD = "a new desk password"


@pytest.fixture
async def admin(client, tokens, db) -> str:
    """The client logged in as the admin; returns the session's CSRF token."""
    await with_password(db, "admin")
    assert (await log_in(client, "admin")).status_code == 303
    return await csrf_of_page(client, "/admin")


async def user_row(db, name) -> User:
    async with db.session(write=False) as session:
        return await session.scalar(select(User).where(User.name == name))


async def user_id(db, name) -> int:
    return (await user_row(db, name)).id


def use(client, cookie: str) -> None:
    """Act as the session of `cookie` (one client, one cookie jar)."""
    client.cookies.clear()
    client.cookies.set("kancha_session", cookie)


async def other_session(client, db, name, password=PASSWORD) -> tuple[str, str]:
    """Log `name` in too; returns (admin's cookie, theirs), the client acting as admin."""
    mine = client.cookies.get("kancha_session")
    client.cookies.clear()
    await with_password(db, name)
    assert (await log_in(client, name, password)).status_code == 303
    theirs = client.cookies.get("kancha_session")
    use(client, mine)
    return mine, theirs


def shown_token(html: str) -> str:
    found = re.search(r'<output id="token"[^>]*>([^<]+)</output>', html)
    assert found, html
    return found.group(1).strip()


async def test_the_admin_lists_the_users_and_only_admins_may(client, tokens, db, admin):
    page = await client.get("/admin")
    assert page.status_code == 200, page.text
    names = re.findall(r'<tr data-user="([^"]+)"', page.text)
    assert names == ["admin", "disp", "rev", "sv1", "sv2"]
    assert 'id="add-user"' in page.text and 'for="add-name"' in page.text
    sv1 = await user_id(db, "sv1")
    for name in ("disp", "rev"):
        mine, theirs = await other_session(client, db, name)
        use(client, theirs)
        for path in ("/admin", "/admin/devices", f"/admin/users/{sv1}"):
            refused = await client.get(path)
            assert refused.status_code == 403, (name, path)
            assert "Your role may not open this page" in refused.text
        csrf = await csrf_of_page(client, "/reports")
        post = await client.post("/admin/users", data={"csrf": csrf, "name": "x"})
        assert post.status_code == 403
        client.cookies.clear()
        response = await client.get("/admin", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        use(client, mine)
    for missing in ("99999", "0", "-1", str(2**31), "9" * 30):
        assert (await client.get(f"/admin/users/{missing}")).status_code == 404, missing
        refused = await client.post(f"/admin/users/{missing}/token", data={"csrf": admin})
        assert refused.status_code == 404, missing


async def test_add_a_surveyor_and_their_token_is_shown_once(client, tokens, db, admin):
    response = await client.post(
        "/admin/users",
        data={"csrf": admin, "name": "  sv3 ", "role": "surveyor", "team": "ordinary"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    token = shown_token(response.text)
    assert token.startswith("kt_") and "shown this once" in response.text
    added = await user_row(db, "sv3")
    assert (added.role, added.team, added.password_hash) == ("surveyor", "ordinary", None)
    pull = await client.get("/v1/sync/pull", headers=bearer(token))
    assert pull.status_code == 200, pull.text
    listing = await client.get("/admin")
    assert token not in listing.text and 'data-user="sv3"' in listing.text


async def test_add_a_reviewer_with_a_password_and_a_limit(client, tokens, db, admin):
    response = await client.post(
        "/admin/users",
        data={
            "csrf": admin,
            "name": "zhou",
            "role": "reviewer",
            "max_approve": "50,000",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    assert (await user_row(db, "zhou")).max_approve == 50000
    listing = await client.get("/admin")
    assert "50,000 yuan" in listing.text
    client.cookies.clear()
    assert (await log_in(client, "zhou", NEW_PASSWORD)).status_code == 303


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"name": "sv1", "role": "surveyor"}, 409, "a user named &#39;sv1&#39; already exists"),
        ({"name": "", "role": "surveyor"}, 400, "name must be 1 to 100 characters"),
        ({"name": "a\x00b", "role": "surveyor"}, 400, "must not hold control characters"),
        ({"name": "x", "role": "king"}, 400, "role must be one of"),
        ({"name": "x", "role": "surveyor", "password": PASSWORD}, 400, "has no desk login"),
        ({"name": "x", "role": "dispatcher", "password": "short"}, 400, "8 to 200 characters"),
        ({"name": "x", "role": "dispatcher", "max_approve": "10"}, 400, "approves nothing"),
        ({"name": "x", "role": "reviewer", "max_approve": "lots"}, 400, "number of yuan"),
        ({"name": "x", "role": "reviewer", "max_approve": "-5"}, 400, "number of yuan"),
        ({"name": "x", "role": "reviewer", "max_approve": "nan"}, 400, "number of yuan"),
        ({"name": "x", "role": "surveyor", "team": "t" * 65}, 400, "at most 64 characters"),
    ],
)
async def test_an_add_refused_is_shown_beside_the_form(
    client, tokens, db, admin, form, status, message
):
    response = await client.post("/admin/users", data={"csrf": admin, **form})
    assert response.status_code == status, response.text
    error = re.search(r'<p id="add-error"[^>]*>(.*?)</p>', response.text, re.S)
    assert error and message in error.group(1), response.text
    assert f'value="{form["name"]}"' in response.text  # the form again, as typed
    assert await count(db, User) == 5


async def test_change_role_team_and_limit(client, tokens, db, admin):
    sv2 = await user_id(db, "sv2")
    response = await client.post(
        f"/admin/users/{sv2}/profile",
        data={"csrf": admin, "role": "reviewer", "team": "", "max_approve": "20000"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].endswith("saved=profile")
    page = await client.get(response.headers["location"])
    assert "Saved." in page.text and 'value="20000"' in page.text
    changed = await user_row(db, "sv2")
    assert (changed.role, changed.team, changed.max_approve) == ("reviewer", None, 20000)
    sv1 = await user_id(db, "sv1")
    response = await client.post(
        f"/admin/users/{sv1}/profile",
        data={"csrf": admin, "role": "surveyor", "team": " large ", "max_approve": ""},
    )
    assert response.status_code == 200, response.text
    assert (await user_row(db, "sv1")).team == "large"
    # A limit on a role that approves nothing: refused beside the form, nothing changed.
    refused = await client.post(
        f"/admin/users/{sv1}/profile",
        data={"csrf": admin, "role": "surveyor", "team": "x", "max_approve": "100"},
    )
    assert refused.status_code == 400
    assert re.search(r'<p id="profile-error"[^>]*>[^<]*approves nothing', refused.text)
    assert (await user_row(db, "sv1")).team == "large"
    own = await client.post(
        f"/admin/users/{await user_id(db, 'admin')}/profile",
        data={"csrf": admin, "role": "dispatcher"},
    )
    assert own.status_code == 403 and "cannot take the admin role from yourself" in own.text
    assert (await user_row(db, "admin")).role == "admin"


async def test_reset_a_password_ends_their_sessions(client, tokens, db, admin):
    mine, theirs = await other_session(client, db, "disp")
    disp = await user_id(db, "disp")
    mismatch = await client.post(
        f"/admin/users/{disp}/password",
        data={"csrf": admin, "password": NEW_PASSWORD, "confirm": "something else"},
    )
    assert mismatch.status_code == 400 and "The two passwords differ." in mismatch.text
    short = await client.post(
        f"/admin/users/{disp}/password",
        data={"csrf": admin, "password": "short", "confirm": "short"},
    )
    assert short.status_code == 400 and 'id="password-error"' in short.text
    reset = await client.post(
        f"/admin/users/{disp}/password",
        data={"csrf": admin, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert reset.status_code == 303, reset.text
    assert "Password set" in (await client.get(reset.headers["location"])).text
    use(client, theirs)
    ended = await client.get("/reports", follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    client.cookies.clear()
    assert (await log_in(client, "disp", PASSWORD)).status_code == 401
    assert (await log_in(client, "disp", NEW_PASSWORD)).status_code == 303
    use(client, mine)
    # A surveyor has no desk login: no form, and a post anyway is refused in words.
    sv1 = await user_id(db, "sv1")
    assert 'id="password"' not in (await client.get(f"/admin/users/{sv1}")).text
    refused = await client.post(
        f"/admin/users/{sv1}/password",
        data={"csrf": admin, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert refused.status_code == 400 and "has no desk login" in refused.text


async def test_issue_a_new_token_shown_once_and_the_old_one_stops(client, tokens, db, admin):
    sv1 = await user_id(db, "sv1")
    response = await client.post(f"/admin/users/{sv1}/token", data={"csrf": admin})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = shown_token(response.text)
    assert (await client.get("/v1/sync/pull", headers=tokens["sv1"])).status_code == 401
    assert (await client.get("/v1/sync/pull", headers=bearer(token))).status_code == 200
    assert token not in (await client.get(f"/admin/users/{sv1}")).text


async def test_revoke_stops_their_token_and_sessions(client, tokens, db, admin):
    mine, theirs = await other_session(client, db, "disp")
    disp = await user_id(db, "disp")
    response = await client.post(
        f"/admin/users/{disp}/revoke", data={"csrf": admin}, follow_redirects=False
    )
    assert response.status_code == 303
    use(client, theirs)
    assert (await client.get("/reports", follow_redirects=False)).status_code == 303
    use(client, mine)
    assert (await client.get("/v1/board", headers=tokens["disp"])).status_code == 401
    page = await client.get(f"/admin/users/{disp}?saved=revoked")
    assert "Revoked." in page.text and 'id="token-submit"' not in page.text
    async with db.session(write=False) as session:
        left = await session.scalars(select(DeskSession).where(DeskSession.user_id == disp))
        assert left.all() == []
    again = await client.post(f"/admin/users/{disp}/token", data={"csrf": admin})
    assert again.status_code == 409 and "is revoked" in again.text
    own = await client.post(
        f"/admin/users/{await user_id(db, 'admin')}/revoke", data={"csrf": admin}
    )
    assert own.status_code == 403 and "You cannot revoke yourself." in own.text


async def test_every_admin_form_needs_the_csrf_token(client, tokens, db, admin):
    sv1 = await user_id(db, "sv1")
    for path, form in [
        ("/admin/users", {"name": "x", "role": "surveyor"}),
        (f"/admin/users/{sv1}/profile", {"role": "reviewer"}),
        (f"/admin/users/{sv1}/token", {}),
        (f"/admin/users/{sv1}/revoke", {}),
    ]:
        response = await client.post(path, data=form)
        assert response.status_code == 403 and "CSRF" in response.text, path
    assert await count(db, User) == 5
    assert (await user_row(db, "sv1")).revoked_at is None


async def test_devices_and_their_rejected_packets(client, tokens, db, admin):
    empty = await client.get("/admin/devices")
    assert empty.status_code == 200 and "No tablet has pushed yet." in empty.text
    case = await dispatched_case(client, tokens)
    device, quiet = new_id(), new_id()
    first = packet(case["id"], 1, data={"text": "first"})
    stray = packet(new_id(), 2)
    await push(client, tokens["sv1"], push_body(device, [first, stray]))
    await push(client, tokens["sv1"], push_body(device, [{**first, "data": {"text": "other"}}]))
    await push(client, tokens["sv2"], push_body(quiet, []))
    page = await client.get("/admin/devices")
    assert page.status_code == 200, page.text
    assert f'<tr data-device="{device}">' in page.text
    section = re.search(rf'<section id="device-{device}".*?</section>', page.text, re.S).group(0)
    assert "sv1" in section
    rows = re.findall(r'<tr data-seq="(\d+)">(.*?)</tr>', section, re.S)
    assert [seq for seq, _ in rows] == ["1", "2"]
    assert "conflict" in rows[0][1] and first["packet_id"] in rows[0][1]
    assert "unknown case" in rows[1][1] and stray["packet_id"] in rows[1][1]
    quiet_section = re.search(rf'<section id="device-{quiet}".*?</section>', page.text, re.S)
    assert quiet_section is None or "Nothing was rejected." in quiet_section.group(0)


async def test_admin_pages_in_chinese(client, tokens, db, admin):
    page = await client.get("/admin", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "添加用户" in page.text and "核损权限（元）" in page.text
    devices = await client.get("/admin/devices", headers={"Accept-Language": "zh"})
    assert "尚无平板上传数据。" in devices.text


async def test_a_name_is_shown_as_text_never_as_markup(client, tokens, db, admin):
    name = '<script>alert("x")</script>'
    response = await client.post(
        "/admin/users", data={"csrf": admin, "name": name, "role": "surveyor"}
    )
    assert response.status_code == 201, response.text
    assert name not in response.text and "&lt;script&gt;" in response.text
    listing = await client.get("/admin")
    assert name not in listing.text and "&lt;script&gt;alert" in listing.text
