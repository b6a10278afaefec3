"""Builds the Litestar app: one place wiring routes, dependencies, auth and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import NamedDependency, Provide
from litestar.middleware.base import DefineMiddleware
from sqlalchemy.ext.asyncio import AsyncSession

from cases.clock import Clock, make_clock
from cases.intake import IntakeRules
from cases.jobs import RecalcRules
from cases.limits import Limits, LimitsError, Tiers
from cases.load import LoadPolicy
from cases.models import User
from cases.service import CaseService
from media.runtime import media_runtime
from media.service import MediaService, MediaSettings
from media.store import MediaStore
from server.access_log import access_log, access_log_send
from server.auth import BearerTokenMiddleware, provide_user
from server.bodies import StrictRequest
from server.db import Database, close_session_after_exception, provide_session, settle_session
from server.desk.render import template_config
from server.desk.routes import DESK_ROUTES, OPEN_PATHS
from server.errors import EXCEPTION_HANDLERS
from server.openapi import docs_assets_router, openapi_config
from server.routes.board import read_board
from server.routes.cases import CaseController
from server.routes.devices import DeviceController
from server.routes.health import health, readiness
from server.routes.media import MediaController
from server.routes.openrosa import CollectController, TokenCollectController
from server.routes.reports import read_sla_report
from server.routes.review import ReviewController
from server.routes.sync import SyncController, provide_sync_service
from server.routes.uploads import UploadController
from server.settings import Settings, SettingsError
from server.worker import working
from sync.groups import GroupCommit
from sync.push import ingest_group
from sync.service import SyncLimits, SyncRuntime

ROUTES = [
    health,
    readiness,
    CaseController,
    SyncController,
    ReviewController,
    read_board,
    read_sla_report,
]
ROUTES += [MediaController, UploadController, DeviceController]
ROUTES += [CollectController, TokenCollectController]  # ODK Collect (OpenRosa)
MAX_STALE_FIX_SECONDS = 7 * 24 * 3600  # a week: anything more is no margin at all


def create_app(
    settings: Settings, *, clock: Clock | None = None, store: MediaStore | None = None
) -> Litestar:
    """The API over `settings`; `clock` is the server's time (a fake one in tests);
    `store` the media store (default: the one KANCHA_MEDIA_URL names)."""
    clock = clock or server_clock(settings)
    limits = limits_in_force(settings)
    load = load_policy(settings)
    stale_fix = stale_fix_margin(settings)
    rules = settings.intake_rules
    database = Database(settings.resolved_database_url, echo=settings.echo_sql)
    push_turns = asyncio.Semaphore(max(1, settings.push_concurrency))
    push_groups = GroupCommit(
        database,
        partial(
            ingest_group,
            tiers=limits.tiers,
            irregular_window=rules.irregular_window,
            stale_fix=stale_fix,
        ),
        max_packets=settings.push_group_packets,
        writers=1 if database.is_sqlite else settings.push_writers,
    )
    sync_runtime = SyncRuntime(
        sessions=database,
        clock=clock,
        limits=SyncLimits(settings.max_batch_packets, settings.max_batch_bytes),
        push_turns=push_turns,
        groups=push_groups,
        timing_limits=limits,
        rules=rules,
        stale_fix=stale_fix,
    )
    try:
        media = media_runtime(settings, database, clock, store)
    except ValueError as exc:  # an unusable KANCHA_MEDIA_URL (or S3 endpoint)
        message = str(exc).removeprefix("KANCHA_MEDIA_URL: ")
        raise SettingsError(f"KANCHA_MEDIA_URL: {message}") from None

    media_settings = MediaSettings.of(settings)
    recalc_rules = RecalcRules(limits.tiers, rules.irregular_window, stale_fix)

    def provide_media(
        db_session: NamedDependency[AsyncSession], user: NamedDependency[User]
    ) -> MediaService:
        return MediaService(db_session, database, media, media_settings, clock, user)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            async with working(settings, media, database, clock, recalc_rules):  # jobs
                yield
        finally:
            await database.dispose()

    config = AppConfig(
        route_handlers=[*ROUTES, *DESK_ROUTES, docs_assets_router()],
        template_config=template_config(settings.desk_utc_offset_minutes),
        request_class=StrictRequest,  # every body decoded strictly (server/bodies.py)
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "clock": Provide(lambda: clock, use_cache=True, sync_to_thread=False),
            "database": Provide(lambda: database, use_cache=True, sync_to_thread=False),
            "db_session": Provide(provide_session, sync_to_thread=False),
            "user": Provide(provide_user, sync_to_thread=False),
            "limits": Provide(lambda: limits, use_cache=True, sync_to_thread=False),
            "rules": Provide(lambda: rules, use_cache=True, sync_to_thread=False),
            "load": Provide(lambda: load, use_cache=True, sync_to_thread=False),
            "stale_fix": Provide(lambda: stale_fix, use_cache=True, sync_to_thread=False),
            "sync_runtime": Provide(lambda: sync_runtime, use_cache=True, sync_to_thread=False),
            "sync": Provide(provide_sync_service, sync_to_thread=False),
            "media": Provide(provide_media, sync_to_thread=False),
            "cases": Provide(provide_case_service, sync_to_thread=False),
        },
        middleware=[
            *([access_log] if settings.access_log else []),
            DefineMiddleware(
                BearerTokenMiddleware,
                exclude=[
                    "^/schema",
                    "^/health",
                    "^/readyz$",
                    "^/openrosa",
                    "^/collect/",
                    *OPEN_PATHS,
                ],
            ),
        ],
        before_send=[settle_session, *([access_log_send] if settings.access_log else [])],
        after_exception=[close_session_after_exception],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=[lifespan],
        # Routes that take more (pushes, media) set their own limit.
        request_max_body_size=1024 * 1024,
        openapi_config=openapi_config(),
    )
    app = Litestar.from_config(config)
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.media = media
    app.state.push_groups = push_groups
    return app


def app_from_env() -> Litestar:
    """The app over KANCHA_* settings: what each of `kancha serve --workers N`'s
    processes builds for itself (each runs the lifespan: its own pool and job workers)."""
    return create_app(Settings.from_env())


def provide_case_service(
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
    limits: NamedDependency[Limits],
    load: NamedDependency[LoadPolicy],
    user: NamedDependency[User],
    rules: NamedDependency[IntakeRules],
    stale_fix: NamedDependency[timedelta],
) -> CaseService:
    """The case domain for this request: its session, as its user."""
    return CaseService(db_session, clock, limits, user, rules, load=load, stale_fix=stale_fix)


def load_policy(settings: Settings) -> LoadPolicy:
    for name in ("load_window_seconds", "load_warn_count"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"KANCHA_{name.upper()}: must be at least 1")
    return LoadPolicy(
        window=timedelta(seconds=settings.load_window_seconds),
        warn_count=settings.load_warn_count,
    )


def stale_fix_margin(settings: Settings) -> timedelta:
    """How much older than an event's other times a GPS fix may be (KANCHA_STALE_FIX_SECONDS)."""
    if not 0 <= settings.stale_fix_seconds <= MAX_STALE_FIX_SECONDS:
        raise SettingsError(
            f"KANCHA_STALE_FIX_SECONDS: must be 0 to {MAX_STALE_FIX_SECONDS}, "
            f"got {settings.stale_fix_seconds}"
        )
    return timedelta(seconds=settings.stale_fix_seconds)


def limits_in_force(settings: Settings) -> Limits:
    """The limits and loss tiers KANCHA_LIMITS, KANCHA_TEAM_LIMITS, KANCHA_ZONE_LIMITS and
    KANCHA_ESTIMATE_TIERS set; an unusable one stops the server naming its variable and key."""
    try:
        tiers = Tiers(settings.estimate_tiers)
    except LimitsError as exc:
        raise SettingsError(f"KANCHA_ESTIMATE_TIERS: {exc}") from None
    layers = (
        ("KANCHA_LIMITS", {}),
        ("KANCHA_TEAM_LIMITS", {"team_limits": settings.team_limits}),
        ("KANCHA_ZONE_LIMITS", {"zone_limits": settings.zone_limits}),
    )
    for variable, layer in layers:
        try:
            Limits(settings.limits, tiers, **layer)
        except LimitsError as exc:
            raise SettingsError(f"{variable}: {exc}") from None
    return Limits(
        settings.limits, tiers, team_limits=settings.team_limits, zone_limits=settings.zone_limits
    )


def server_clock(settings: Settings) -> Clock:
    """The system clock, or the compressed one a simulated day runs on (KANCHA_CLOCK_*)."""
    try:
        return make_clock(settings.clock_speed, settings.clock_start, settings.clock_anchor)
    except ValueError as exc:
        field, _, message = str(exc).partition(":")
        raise SettingsError(f"KANCHA_{field.upper()}:{message}") from None
