"""Every desk route, for server/app.py to mount (each area's handlers live in its module)."""

from __future__ import annotations

from litestar.static_files import create_static_files_router

from server.desk.admin import (
    add_user_form,
    admin_page,
    password_form,
    profile_form,
    revoke_form,
    token_form,
    user_page,
)
from server.desk.admin_devices import devices_page
from server.desk.board import BOARD_ROUTES
from server.desk.cases import CASE_ROUTES
from server.desk.fraud import fraud_page
from server.desk.login import home, login, login_form, logout, switch_language
from server.desk.render import STATIC
from server.desk.reports import reports_csv, reports_page
from server.desk.review import REVIEW_ROUTES

DESK_ROUTES = [login_form, login, logout, switch_language, home, *BOARD_ROUTES]
DESK_ROUTES += [reports_page, reports_csv, fraud_page]
DESK_ROUTES += [admin_page, add_user_form, user_page, profile_form, password_form]
DESK_ROUTES += [token_form, revoke_form, devices_page]
DESK_ROUTES += CASE_ROUTES
DESK_ROUTES += REVIEW_ROUTES
DESK_ROUTES += [
    create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False)
]
# Open without a session (the auth middleware skips them).
OPEN_PATHS = ["^/login", "^/static/", "^/lang/"]
