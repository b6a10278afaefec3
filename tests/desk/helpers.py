"""Desk test helpers: users with passwords, and logging in through the real form."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from cases.passwords import set_password
from server.db import Database

PASSWORD = "correct horse battery"


async def with_password(db: Database, name: str, password: str = PASSWORD) -> None:
    async with db.session() as session:
        await set_password(session, name, password)
        await session.commit()


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


async def log_in(client: AsyncTestClient, name: str, password: str = PASSWORD, next_: str = "/"):
    form = await client.get("/login")
    assert form.status_code == 200, form.text
    return await client.post(
        "/login",
        data={
            "username": name,
            "password": password,
            "csrf": hidden(form.text, "csrf"),
            "next": next_,
        },
        follow_redirects=False,
    )


async def csrf_of_page(client: AsyncTestClient, path: str = "/board") -> str:
    """The session's CSRF token, as every page carries it (htmx header and forms)."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
