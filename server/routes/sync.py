"""Sync (surveyor tablet): push queued packets, pull cases.

The push body is decoded here rather than by Litestar so that each packet's exact bytes
are kept (`msgspec.Raw`) and JSON and MessagePack share one handler; its schema is still
published through a documentation-only dependency (see `_documents_push_body`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from cases.intake import assigned_to
from cases.refusal import Refusal
from cases.values import AwareTime, Identifier, time_out_of_range
from server.auth import provide_user, roles
from server.db import provide_session
from server.openapi import PushOperation, errors
from server.routes.board import RunningTiming, running_timing
from server.routes.cases import CaseView, case_view
from sync import wire
from sync.decide import Status
from sync.packets import (
    MAX_ELAPSED_MS,
    BootId,
    Packet,
    check_data,
    check_monotonic,
    digest,
    refusal,
    verbatim_digest,
)
from sync.push import Incoming
from sync.service import SyncRuntime, SyncService
from sync.wire import JSON, MSGPACK

MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")


# The push's own reading of the tablet's monotonic clock, taken as it is sent.
PushElapsedMs = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=MAX_ELAPSED_MS,
        description="when the push is sent (read again for every attempt, like sent_at): "
        "milliseconds (0 or more) since boot_id's boot on the tablet's monotonic clock; a "
        "packet of that boot is timed as the push's receipt minus (this - its elapsed_ms)",
    ),
]


class PushRequest(msgspec.Struct):
    """What a tablet sends (JSON, or the same as MessagePack). `boot_id` and `elapsed_ms`
    (optional, both or none): the tablet's monotonic clock as the push is sent; a packet of
    the same boot is then timed by it, exactly across wall-clock corrections."""

    device_id: Identifier
    sent_at: AwareTime
    packets: list[Packet]
    boot_id: BootId | None = None
    elapsed_ms: PushElapsedMs | None = None


class _Envelope(msgspec.Struct):
    device_id: Identifier
    sent_at: AwareTime
    packets: list[msgspec.Raw]
    boot_id: BootId | None = None
    elapsed_ms: PushElapsedMs | None = None


class PacketResult(msgspec.Struct, omit_defaults=True):
    packet_id: str
    status: Status
    reason: str | None = None


class PushResponse(msgspec.Struct):
    results: list[PacketResult]
    acked_through: int
    missing: list[int]
    clock_offset_ms: int
    media_wanted: list[str]


class PullCase(CaseView, kw_only=True):
    # False when the case was re-dispatched to someone else: the tablet should drop it.
    # True too for the surveyor's own self-report while it awaits confirmation.
    assigned_to_you: bool
    # Each timing still running, when it falls due and what is left (as on the board).
    running: list[RunningTiming] = []
    # Required on-site documents (simple procedure) not photographed yet.
    missing_documents: list[str] = []


class PullResponse(msgspec.Struct):
    cursor: str
    cases: list[PullCase]


def _documents_push_body(data: PushRequest) -> None:
    """Never called: gives the OpenAPI document the push body's schema."""


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                detail=f"body: a push may carry at most {limit} bytes",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def decode_push(
    body: bytes, content_type: str, max_packets: int
) -> tuple[_Envelope, list[Incoming]]:
    """Decode and check a whole push, or refuse it (400/413) naming what is wrong."""
    is_msgpack = content_type.split(";")[0].strip().lower() in MSGPACK_TYPES
    fmt = MSGPACK if is_msgpack else JSON
    envelope = wire.decode(body, _Envelope, fmt)
    if problem := time_out_of_range(envelope.sent_at):
        raise Refusal("sent_at", problem)
    check_monotonic(envelope.boot_id, envelope.elapsed_ms)
    if len(envelope.packets) > max_packets:
        raise HTTPException(
            status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            detail=f"packets: a push may carry at most {max_packets} packets",
        )
    incoming = []
    for i, raw in enumerate(envelope.packets):
        verbatim = bytes(raw)
        packet = wire.decode(verbatim, Packet, fmt, prefix=f"packets[{i}]")
        check_data(packet, at=f"packets[{i}]", raw=verbatim)
        # What JSON decodes to JSON can carry: only MessagePack brings bin, ext, timestamps.
        if fmt == MSGPACK and (reason := refusal(packet)) is not None:
            incoming.append(Incoming(packet, verbatim, fmt, verbatim_digest(verbatim), reason))
        else:
            incoming.append(Incoming(packet, verbatim, fmt, digest(packet)))
    return envelope, incoming


def provide_sync_service(
    request: Request, sync_runtime: NamedDependency[SyncRuntime]
) -> SyncService:
    """The request's sync, for the surveyor it authenticates; its session is the request's
    (committed or rolled back before the answer, server/db.py), made only if used."""
    database = sync_runtime.sessions
    return SyncService(
        lambda: provide_session(database, request.scope),  # type: ignore[arg-type]
        sync_runtime,
        provide_user(request),
    )


class SyncController(Controller):
    path = "/v1/sync"
    tags = ["sync"]

    @post(
        "/push",
        guards=[roles("surveyor")],
        status_code=200,
        summary="Push queued packets (JSON or application/msgpack)",
        description=(
            "One result per packet, in order. The response is sent only once what it "
            "reports is committed. A device_id belongs to the surveyor who first pushed "
            "from it: another surveyor gets 409 and nothing is stored."
        ),
        request_max_body_size=None,  # enforced against the settings while streaming
        dependencies={"_push_body": Provide(_documents_push_body, sync_to_thread=False)},
        operation_class=PushOperation,
        responses=errors(400, 403, 409, 413, 503),
    )
    async def push(self, request: Request, sync: NamedDependency[SyncService]) -> PushResponse:
        body = await _read_body(request, sync.limits.max_batch_bytes)
        async with sync.push_turn():
            envelope, incoming = decode_push(
                body, request.headers.get("content-type", ""), sync.limits.max_batch_packets
            )
        outcome = await sync.push(
            envelope.device_id,
            envelope.sent_at,
            incoming,
            boot_id=envelope.boot_id,
            elapsed_ms=envelope.elapsed_ms,
        )
        return msgspec.convert(outcome, PushResponse, from_attributes=True)

    @get(
        "/pull",
        guards=[roles("surveyor")],
        summary="Cases dispatched to me, taken away from me, or changed since the cursor",
        responses=errors(400, 403),
    )
    async def pull(
        self,
        sync: NamedDependency[SyncService],
        cursor: Annotated[
            str | None,
            QueryParameter(name="cursor", max_length=200, description="opaque, from a pull"),
        ] = None,
    ) -> PullResponse:
        pulled = await sync.pull(cursor)
        return PullResponse(
            cursor=pulled.cursor,
            cases=[
                PullCase(
                    **msgspec.structs.asdict(
                        case_view(case, sync.rules, pulled.reviews.get(case.id))
                    ),
                    assigned_to_you=assigned_to(case, sync.surveyor),
                    running=[running_timing(t, key) for t, key in pulled.running.get(case.id, [])],
                    missing_documents=pulled.missing_documents.get(case.id, []),
                )
                for case in pulled.cases
            ],
        )
