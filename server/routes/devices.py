"""Devices (desk): each tablet's settled position and clock, and the packets it had refused."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from cases.values import Identifier
from server.auth import roles
from server.openapi import errors
from sync.rejections import devices, rejections


class DeviceView(msgspec.Struct):
    device_id: str
    surveyor: str
    first_seen_at: datetime
    last_push_at: datetime
    acked_through: int
    max_seq: int
    clock_offset_ms: int


class RejectionView(msgspec.Struct):
    packet_id: str
    seq: int
    case_id: str | None
    kind: str | None
    reason: str
    received_at: datetime


class DeviceController(Controller):
    path = "/v1/devices"
    tags = ["devices"]
    guards = [roles("dispatcher", "reviewer")]

    @get(
        "/",
        summary="Every tablet: its surveyor, settled position and clock offset",
        responses=errors(403),
    )
    async def list_devices(self, db_session: NamedDependency[AsyncSession]) -> list[DeviceView]:
        found = await devices(db_session)
        return msgspec.convert(found, list[DeviceView], from_attributes=True)

    @get(
        "/{device_id:str}/rejections",
        summary="A tablet's rejected packets and conflicts",
        responses=errors(400, 403, 404),
    )
    async def list_rejections(
        self, device_id: FromPath[Identifier], db_session: NamedDependency[AsyncSession]
    ) -> list[RejectionView]:
        found = await rejections(db_session, device_id)
        return msgspec.convert(found, list[RejectionView], from_attributes=True)
