"""The `kancha` command: serve, users, migrations, verify and export the log."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import math
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cases.clock import SystemClock
from cases.passwords import DESK_ROLES, check_new_password, set_password
from cases.reviews import yuan
from cases.users import (
    UserError,
    active_user_by_name,
    create_user,
    issue_token,
    list_users,
    revoke_user,
    set_authority,
    set_team,
)
from server.db import Database, failure_reason, migrate_url, shown_url, url_problem
from server.settings import Settings, SettingsError


def _prepare(settings: Settings) -> None:
    """Create the data dir and bring the schema up to date; a setting that keeps either
    from happening is a SettingsError naming it (one line, no traceback)."""
    url = settings.resolved_database_url
    setting = "KANCHA_DATABASE_URL" if settings.database_url else "KANCHA_DATA_DIR"
    if problem := url_problem(url):
        raise SettingsError(f"{setting}: {problem}")
    try:
        settings.data_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"KANCHA_DATA_DIR: cannot create {settings.data_path}: {exc.strerror}"
        ) from None
    try:
        migrate_url(url)
    except (SQLAlchemyError, OSError) as exc:
        raise SettingsError(
            f"{setting}: cannot open {shown_url(url)}: {failure_reason(exc)}"
        ) from None


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from media.store import StoreUnavailable
    from server.app import create_app
    from server.http import HeaderLimitedHttpTools

    if args.workers < 1:
        raise SettingsError(f"--workers {args.workers}: must be at least 1")
    if args.workers > 1 and make_url(settings.resolved_database_url).get_backend_name() == "sqlite":
        raise SettingsError(
            f"--workers {args.workers} needs PostgreSQL: SQLite takes one writer per file, so"
            " more processes would only queue on its lock; set KANCHA_DATABASE_URL to a"
            " postgresql+asyncpg:// database, or run one worker"
        )
    _prepare(settings)  # migrations run once, here, before any worker starts
    app = create_app(settings)
    try:
        asyncio.run(app.state.media.store.check())
    except StoreUnavailable as exc:
        raise SettingsError(f"KANCHA_MEDIA_URL: {exc}") from None
    print(f"kancha: data in {settings.data_path}", file=sys.stderr)
    # Several workers: each process builds its own app from the same KANCHA_* variables
    # (uvicorn binds the port once and hands the socket to them all).
    target = app if args.workers == 1 else "server.app:app_from_env"
    uvicorn.run(
        target,
        factory=args.workers > 1,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
        http=HeaderLimitedHttpTools,
        access_log=not settings.access_log,  # ours replaces uvicorn's
    )
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Do background jobs (thumbnails, recalculation) until stopped."""
    from cases.jobs import RecalcRules
    from media.store import StoreUnavailable
    from server.app import limits_in_force, server_clock, stale_fix_margin
    from server.worker import run_worker

    if problem := url_problem(settings.resolved_database_url):
        raise SettingsError(f"KANCHA_DATABASE_URL: {problem}")
    rules = RecalcRules(
        limits_in_force(settings).tiers,
        settings.intake_rules.irregular_window,
        stale_fix_margin(settings),
    )
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logging.getLogger("kancha").addHandler(handler)  # the jobs done, and what failed
    logging.getLogger("kancha").setLevel(logging.INFO)
    try:
        asyncio.run(run_worker(settings, server_clock(settings), rules))
    except StoreUnavailable as exc:
        raise SettingsError(f"KANCHA_MEDIA_URL: {exc}") from None
    except (SQLAlchemyError, OSError) as exc:
        url = shown_url(settings.resolved_database_url)
        raise SettingsError(f"cannot use {url}: {failure_reason(exc)}") from None
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    _prepare(settings)
    print("database is up to date")
    return 0


def _with_session(
    settings: Settings, work: Callable[..., Awaitable[object]]
) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        database = Database(settings.resolved_database_url)
        try:
            async with database.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await database.dispose()

    return run


def read_password(prompt: str = "password: ") -> str:
    """A desk password from stdin (one line, for scripts) or typed twice at a terminal:
    never on the command line, where `ps` and the shell history would show it."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(prompt)
        if getpass.getpass("again: ") != password:
            raise UserError("the two passwords differ")
    check_new_password(password)
    return password


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    _prepare(settings)
    now = SystemClock().now()
    if args.password and args.role not in DESK_ROLES:
        raise UserError(f"a {args.role} has no desk login (desk roles: {', '.join(DESK_ROLES)})")
    password = read_password() if args.password else None

    async def add(session) -> str:
        token = await create_user(
            session, args.name, args.role, now, args.max_approve, team=args.team
        )
        if password is not None:
            await set_password(session, args.name, password)
        return token

    token = asyncio.run(_with_session(settings, add)())
    authority = "" if args.max_approve is None else f" ({_authority(args.max_approve)})"
    team = f" of team {args.team.strip()}" if args.team and args.team.strip() else ""
    print(
        f"created {args.role} {args.name}{team}{authority} in {_database_name(settings)};"
        " its token is shown once:"
    )
    print(token)
    return 0


def cmd_user_password(settings: Settings, args: argparse.Namespace) -> int:
    """Set or reset a desk user's password (their open desk sessions end)."""
    from server.desk.sessions import close_sessions_of

    _prepare(settings)
    password = read_password()

    async def reset(session) -> None:
        user = await set_password(session, args.name, password)
        await close_sessions_of(session, user.id)

    asyncio.run(_with_session(settings, reset)())
    print(f"password of {args.name} set in {_database_name(settings)}")
    return 0


def cmd_user_token(settings: Settings, args: argparse.Namespace) -> int:
    _prepare(settings)
    token = asyncio.run(_with_session(settings, lambda s: issue_token(s, args.name))())
    print(
        f"new token for {args.name} in {_database_name(settings)} (the old one no longer works);"
        " it is shown once:"
    )
    print(token)
    return 0


def cmd_collect_qr(settings: Settings, args: argparse.Namespace) -> int:
    """A new token for a surveyor and the QR code that configures ODK Collect with it."""
    from sync.openrosa.qr import collect_settings, qr_code, settings_payload

    _prepare(settings)

    async def issue(session) -> str:
        user = await active_user_by_name(session, args.name)
        if user is None or user.role != "surveyor":
            raise UserError(f"no active surveyor named {args.name!r}")
        return await issue_token(session, args.name)

    token = asyncio.run(_with_session(settings, issue)())
    collect = collect_settings(args.url, token, args.name)
    code = qr_code(collect)
    print(
        f"ODK Collect for {args.name} at {args.url.rstrip('/')}/collect/<token>: scan with "
        "Collect (Configure with QR code). A new token was issued; the old one no longer works."
    )
    code.terminal(out=sys.stdout, compact=True)
    if args.png:
        code.save(args.png, scale=8, border=4)
        print(f"QR code written to {args.png}")
    print(f"settings (what the code carries, base64 of zlib JSON): {settings_payload(collect)}")
    return 0


def cmd_user_authority(settings: Settings, args: argparse.Namespace) -> int:
    _prepare(settings)
    asyncio.run(_with_session(settings, lambda s: set_authority(s, args.name, args.amount))())
    print(f"{args.name} {_authority(args.amount)}")
    return 0


def _authority(max_approve: float | None) -> str:
    return (
        "approves any amount" if max_approve is None else f"approves up to {yuan(max_approve)} yuan"
    )


def _yuan_or_none(text: str) -> float | None:
    """An approval authority on the command line: yuan, or `none` for no limit."""
    if text.strip().lower() in ("none", "unlimited"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of yuan") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of yuan, 0 or more")
    return value


def _database_name(settings: Settings) -> str:
    return shown_url(settings.resolved_database_url)


def cmd_user_list(settings: Settings, args: argparse.Namespace) -> int:
    _prepare(settings)
    users = asyncio.run(_with_session(settings, list_users)())
    for user in users:  # type: ignore[attr-defined]
        state = f"revoked {user.revoked_at:%Y-%m-%d %H:%M}" if user.revoked_at else "active"
        authority = "" if user.max_approve is None else f"\tmax_approve {yuan(user.max_approve)}"
        team = f"\tteam {user.team}" if user.team else ""
        print(f"{user.name}\t{user.role}\t{state}{authority}{team}")
    return 0


def cmd_user_team(settings: Settings, args: argparse.Namespace) -> int:
    _prepare(settings)
    wanted = None if args.team == "none" else args.team
    team = asyncio.run(_with_session(settings, lambda s: set_team(s, args.name, wanted))())
    print(f"{args.name} is in team {team}" if team else f"{args.name} is in no team")
    return 0


def cmd_user_revoke(settings: Settings, args: argparse.Namespace) -> int:
    _prepare(settings)
    now = SystemClock().now()
    asyncio.run(_with_session(settings, lambda s: revoke_user(s, args.name, now))())
    print(f"revoked {args.name}")
    return 0


def cmd_recalc(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute every case's timeline, timings and progress from the log."""
    from cases.recalc import recalc_everything
    from server.app import limits_in_force, stale_fix_margin

    _prepare(settings)
    if args.queue:
        from cases.jobs import queue_recalc

        now = SystemClock().now()
        queued = asyncio.run(
            _with_session(settings, lambda s: queue_recalc(s, now, batch=args.batch))()
        )
        print(f"queued {queued} recalculation jobs of up to {max(1, args.batch)} cases")
        return 0
    tiers = limits_in_force(settings).tiers
    stale_fix = stale_fix_margin(settings)

    async def run() -> dict[str, float]:
        database = Database(settings.resolved_database_url)
        try:
            return await recalc_everything(
                database.write_sessions,
                tiers=tiers,
                irregular_window=settings.intake_rules.irregular_window,
                stale_fix=stale_fix,
                batch=max(1, args.batch),
            )
        finally:
            await database.dispose()

    done = asyncio.run(run())
    print(
        f"recalculated {done['cases']} cases ({done['events']} events) in {done['seconds']:.1f} s"
    )
    return 0


def _store(settings: Settings):
    from media.store import open_store

    return open_store(settings.resolved_media_url, settings.data_path / "staging")


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute the hash chains (all, or those of the devices that sent a case's packets)
    and re-hash the photos they refer to: exit 0 when intact, 1 naming the first break."""
    from media.store import StoreUnavailable
    from sync.verify import NoSuchCase, devices_of_case, verify_chains

    _prepare(settings)
    store = _store(settings)

    async def verify(session):
        devices = None if args.case is None else await devices_of_case(session, args.case)
        return await verify_chains(session, store, devices)

    try:
        done = asyncio.run(_with_session(settings, verify)())
    except (NoSuchCase, StoreUnavailable) as exc:
        print(f"kancha verify: {exc}", file=sys.stderr)
        return 2
    scope = f" of case {args.case}" if args.case else ""
    if done.first is not None:
        others = len(done.broken) - 1
        more = f" (and {others} more difference{'s' * (others != 1)})" if others else ""
        print(f"kancha verify: {done.first}{more}", file=sys.stderr)
        return 1
    print(
        f"verified{scope}: {done.entries} chain entries of {done.devices} devices and"
        f" {done.photos} photos, every link intact"
    )
    for device, (n, digest) in sorted(done.heads.items()):
        print(f"head\t{device}\t{n}\t{digest}")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write a case, its photos and its chains to DIR for a third party to verify."""
    from media.store import StoreUnavailable
    from sync.export import ExportError, export_case

    _prepare(settings)
    store = _store(settings)
    out = Path(args.dir)
    try:
        done = asyncio.run(
            _with_session(settings, lambda s: export_case(s, store, args.case, out))()
        )
    except (ExportError, StoreUnavailable) as exc:
        print(f"kancha export: {exc}", file=sys.stderr)
        return 2
    missing = f", {done.missing_photos} photos not received yet" if done.missing_photos else ""
    print(
        f"exported case {args.case} to {out}: {done.packets} packets, {done.photos} photos"
        f"{missing}, {done.entries} chain entries"
    )
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from simulator.cli import run_from_args

    return run_from_args(settings, args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kancha", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes answering on the one port (above 1 needs PostgreSQL)",
    )
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser(
        "worker", help="do background jobs (thumbnails, recalculation) until stopped"
    )
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database migrations").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply all migrations").set_defaults(func=cmd_db_upgrade)

    user = sub.add_parser("user", help="manage users and tokens").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a user; prints its token last")
    add.add_argument("name")
    add.add_argument(
        "--role", required=True, choices=["surveyor", "dispatcher", "reviewer", "admin"]
    )
    add.add_argument(
        "--max-approve",
        type=_yuan_or_none,
        default=None,
        metavar="YUAN",
        help="a reviewer's approval authority in yuan (default: no limit)",
    )
    add.add_argument("--team", help="the surveyor's team (e.g. ordinary): its limits apply")
    add.add_argument(
        "--password",
        action="store_true",
        help="give a desk user (dispatcher, reviewer, admin) a password for the desk's login:"
        " read from stdin, or typed twice at a terminal",
    )
    add.set_defaults(func=cmd_user_add)
    password = user.add_parser(
        "password", help="set or reset a desk user's password (stdin, or typed twice)"
    )
    password.add_argument("name")
    password.set_defaults(func=cmd_user_password)
    authority = user.add_parser(
        "authority", help="change a reviewer's approval authority (max_approve)"
    )
    authority.add_argument("name")
    authority.add_argument("amount", type=_yuan_or_none, metavar="YUAN|none")
    authority.set_defaults(func=cmd_user_authority)
    user.add_parser("list", help="list users").set_defaults(func=cmd_user_list)
    token = user.add_parser("token", help="issue a new token for a user; prints it last")
    token.add_argument("name")
    token.set_defaults(func=cmd_user_token)
    team = user.add_parser("team", help="put a user in a team (none, or no team given: in none)")
    team.add_argument("name")
    team.add_argument("team", nargs="?", default=None, metavar="TEAM|none")
    team.set_defaults(func=cmd_user_team)
    revoke = user.add_parser("revoke", help="revoke a user's token")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_user_revoke)

    qr = sub.add_parser(
        "collect-qr", help="issue a surveyor a token and show the QR code for ODK Collect"
    )
    qr.add_argument("name", metavar="USER")
    qr.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the server as the phone reaches it"
    )
    qr.add_argument("--png", metavar="FILE", help="also write the code as a PNG")
    qr.set_defaults(func=cmd_collect_qr)

    recalc = sub.add_parser("recalc", help="recompute every case's timings from the log")
    recalc.add_argument("--batch", type=int, default=500, help="cases per transaction")
    recalc.add_argument(
        "--queue",
        action="store_true",
        help="queue the work as jobs (--batch cases each) for the workers, and return",
    )
    recalc.set_defaults(func=cmd_recalc)

    verify = sub.add_parser(
        "verify", help="recompute the packet hash chains and photo hashes; exit 1 on a break"
    )
    verify.add_argument("--case", help="only the chains of the devices that sent this case")
    verify.set_defaults(func=cmd_verify)
    export = sub.add_parser("export", help="write a case, its photos and its chains to DIR")
    export.add_argument("--case", required=True, help="the case's id")
    export.add_argument("dir", metavar="DIR", help="a new or empty directory")
    export.set_defaults(func=cmd_export)

    from simulator.cli import add_simulate_parser

    add_simulate_parser(sub).set_defaults(func=cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.func(settings, args)
    except (SettingsError, UserError) as exc:
        print(f"kancha: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
