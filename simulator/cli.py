"""The `kancha simulate` options, kept here so server/cli.py only gains two lines."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Protocol

from cases.clock import make_clock
from simulator.plan import Options

DEFAULTS = Options()


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be a share between 0 and 1")
    return value


def add_simulate_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate",
        help="play a branch's day of field survey against a server and check the result",
        description="Play a day of surveying through the wire contract and compare the "
        "server's state with the truth. Without --url it starts its own server on a "
        "temporary embedded default. Exit status 1 when anything was lost, stored twice, "
        "timed wrong or left unflagged.",
    )
    add = p.add_argument
    add("--url", help="a running server (default: start one on a temporary data dir)")
    add("--users", type=Path, help="with --url: file of `name role token` lines")
    add("--devices", type=int, default=DEFAULTS.devices, help="tablets (one surveyor each)")
    add("--cases", type=int, default=DEFAULTS.cases)
    add("--offline", type=_share, default=DEFAULTS.offline, help="share of time without signal")
    add(
        "--duplicates", type=_share, default=DEFAULTS.duplicates, help="share of batches sent twice"
    )
    add("--reorder", type=_share, default=DEFAULTS.reorder, help="share of flushes out of order")
    add("--clock-skew", type=float, default=DEFAULTS.clock_skew_min, help="max minutes off")
    add(
        "--clock-corrected",
        type=_share,
        default=DEFAULTS.clock_corrected,
        help="share of tablets 3-9x --clock-skew wrong, corrected mid-queue (monotonic clock)",
    )
    add("--photos", type=int, default=DEFAULTS.photos, help="photos per case (plus documents)")
    add("--tus", type=_share, default=DEFAULTS.tus_share, help="share of photos sent by tus")
    add("--no-fix", type=_share, default=DEFAULTS.no_fix, help="share of events without GPS")
    add(
        "--redispatch",
        type=_share,
        default=DEFAULTS.redispatch,
        help="share of cases taken from their surveyor mid-way and dispatched to another",
    )
    add(
        "--handover",
        type=_share,
        default=DEFAULTS.handover,
        help="share of cases that are large and handed over for the estimate",
    )
    add(
        "--out-of-town",
        type=_share,
        default=DEFAULTS.out_of_town,
        help="share of cases out of town, delegated by the dispatcher",
    )
    add(
        "--returns",
        type=_share,
        default=DEFAULTS.returns,
        help="share of estimates returned by the reviewer and resubmitted",
    )
    add("--close", type=_share, default=DEFAULTS.close, help="share of approved cases closed")
    add("--anomalies", type=int, default=DEFAULTS.anomalies, help="of each kind (-1: ~2%%)")
    add("--seed", type=int, default=DEFAULTS.seed)
    add(
        "--speed",
        type=float,
        default=None,
        help=f"simulated seconds per real second (default {DEFAULTS.speed:g}; with --url, "
        "the server's KANCHA_CLOCK_SPEED, which must match)",
    )
    add("--database-url", default="", help="own server only: a database instead of SQLite")
    add("--keep", type=Path, help="own server only: keep its data in this directory")
    add("--json", action="store_true", help="print the report as JSON")
    add("--quiet", action="store_true", help="no progress bar")
    return p


class ClockSettings(Protocol):
    """The server's KANCHA_CLOCK_* settings, which `kancha simulate --url` must share."""

    clock_speed: float
    clock_start: str
    clock_anchor: str


def run_from_args(settings: ClockSettings, args: argparse.Namespace) -> int:
    from simulator.run import SimulationError, main_error, simulate

    if args.devices < 1 or args.cases < 1 or args.photos < 0:
        return main_error("--devices and --cases must be at least 1, --photos at least 0")
    speed = args.speed
    server_clock = None
    if args.url:
        # The tablets must live on the server's clock: the same KANCHA_CLOCK_* settings.
        if speed is not None and speed != settings.clock_speed:
            return main_error(
                f"--speed {speed:g} but KANCHA_CLOCK_SPEED is {settings.clock_speed:g}: "
                "run simulate with the server's KANCHA_CLOCK_* settings"
            )
        speed = settings.clock_speed
        try:
            server_clock = make_clock(
                settings.clock_speed, settings.clock_start, settings.clock_anchor
            )
        except ValueError as exc:
            return main_error(str(exc))
    if speed is None:
        speed = DEFAULTS.speed
    if not 0 < speed <= 100_000:
        return main_error("--speed must be above 0 and at most 100000")
    opts = Options(
        devices=args.devices,
        cases=args.cases,
        offline=args.offline,
        duplicates=args.duplicates,
        reorder=args.reorder,
        clock_skew_min=args.clock_skew,
        clock_corrected=args.clock_corrected,
        photos=args.photos,
        tus_share=args.tus,
        no_fix=args.no_fix,
        anomalies=args.anomalies,
        redispatch=args.redispatch,
        handover=args.handover,
        out_of_town=args.out_of_town,
        returns=args.returns,
        close=args.close,
        seed=args.seed,
        speed=speed,
    )
    try:
        return simulate(
            opts,
            url=args.url,
            users_file=args.users,
            database_url=args.database_url,
            keep=args.keep,
            as_json=args.json,
            quiet=args.quiet,
            server_clock=server_clock,
        )
    except (SimulationError, ValueError) as exc:
        return main_error(str(exc))
