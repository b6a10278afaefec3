"""Every desk route, for server/app.py to mount (each area's handlers live in its module)."""

from __future__ import annotations

from litestar.static_files import create_static_files_router

from server.desk.board import board_page
from server.desk.login import home, login, login_form, logout, switch_language
from server.desk.render import STATIC
from server.desk.review import REVIEW_ROUTES

DESK_ROUTES = [login_form, login, logout, switch_language, home, board_page]
DESK_ROUTES += REVIEW_ROUTES
DESK_ROUTES += [
    create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False)
]
# Open without a session (the auth middleware skips them).
OPEN_PATHS = ["^/login", "^/static/", "^/lang/"]
