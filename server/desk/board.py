"""The dispatcher's board page (first page after login)."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from server.desk.guards import desk
from server.desk.render import page


@get("/board", guards=[desk("dispatcher")], include_in_schema=False)
async def board_page(request: Request) -> Template:
    return page(request, "board.html")
