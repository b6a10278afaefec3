"""Admin: the tablets, where each one's queue stands, and the packets the server turned away
(rejected, with the reason, and conflicting re-sends), from sync/rejections.py as the API's
GET /v1/devices and /v1/devices/{id}/rejections give them."""

from __future__ import annotations

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server.desk.guards import desk
from server.desk.render import page
from sync.rejections import devices, rejections


@get("/admin/devices", guards=[desk("admin")], include_in_schema=False)
async def devices_page(request: Request, db_session: NamedDependency[AsyncSession]) -> Template:
    found = await devices(db_session)
    turned_away = {row.device_id: await rejections(db_session, row.device_id) for row in found}
    return page(request, "admin_devices.html", devices=found, rejections=turned_away)
