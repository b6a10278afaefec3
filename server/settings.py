"""Settings: one Struct, read once from `KANCHA_*` environment variables and passed down.

Nothing else in kancha reads the environment: tests build a `Settings` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from cases.intake import IntakeRules

ENV_PREFIX = "KANCHA_"
MiB = 1024 * 1024


# How a number or switch in the environment should look, for messages.
KINDS: dict[object, str] = {int: "a whole number", float: "a number", bool: "true or false"}


class SettingsError(ValueError):
    """A `KANCHA_*` variable that cannot be used; the message names it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Where the embedded default keeps its SQLite file and media folder.
    data_dir: str = "kancha-data"
    # SQLAlchemy async URL; empty means the SQLite file under data_dir.
    database_url: str = ""
    # file:///path or s3://bucket/prefix; empty means data_dir/media.
    media_url: str = ""
    # Overrides of the service-time limits, in seconds, e.g. {"arrival.city": 1800}.
    limits: dict[str, int] = {}
    # Overrides per team and per zone, key by key (team > zone > limits > defaults), e.g.
    # {"ordinary": {"arrival.city": 1200}} and {"suburban": {"accept": 300}}.
    team_limits: dict[str, dict[str, int]] = {}
    zone_limits: dict[str, dict[str, int]] = {}
    # The board's load warning: a surveyor given `load_warn_count` cases or more within
    # `load_window_seconds` is flagged `needs_backup` (the cue to call the backup group).
    load_window_seconds: int = 3600
    load_warn_count: int = 3
    # Estimate tiers in yuan: {"small_max": 2000, "large_above": 10000} (2,000 is small).
    estimate_tiers: dict[str, int] = {}
    # A report this long after the accident (the case's occurred_at) is flagged late_report.
    late_report_seconds: int = 48 * 3600
    # A held packet (irregular report) joins the timeline when a dispatch to its sender
    # follows within this long of its receipt.
    irregular_window_seconds: int = 24 * 3600
    # A GPS fix older than an event's other times (its monotonic or corrected device time)
    # by more than this is flagged stale_fix and not taken as the event's time.
    stale_fix_seconds: int = 300
    # Push batches beyond these are refused whole (413). At most 10,000 packets: a group's
    # reading of the log binds two values per packet, within the drivers' 32,766.
    max_batch_packets: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
    max_batch_bytes: int = 5 * MiB
    # Largest media object accepted (413 above).
    max_media_bytes: int = 50 * MiB
    # Lifetime of presigned media URLs on S3.
    signed_url_seconds: int = 300
    # Log SQL statements (debugging only).
    echo_sql: bool = False
    # The server's clock (see cases/clock.py ScaledClock): a speed other than 1 or a start
    # makes it run compressed from `clock_start` (RFC 3339), which it reads at the real
    # instant `clock_anchor` (default: when the server starts). For simulated days only.
    clock_speed: float = 1.0
    clock_start: str = ""
    clock_anchor: str = ""
    # Media: unfinished tus uploads expire this long after creation.
    upload_expiry_seconds: int = 24 * 3600
    # EXIF times without OffsetTimeOriginal are read in this offset from UTC (China: +8 h).
    exif_utc_offset_minutes: int = 480
    # Photos taken farther than this from the case location, or longer than this before
    # the report, are flagged.
    photo_max_distance_m: float = 1000.0
    photo_max_age_seconds: int = 24 * 3600
    # A photo whose pHash is within this many bits (of 64) of a photo on another case is
    # flagged near_duplicate: re-encoded (JPEG q30-60) and 0.25-0.5x copies of the test
    # scenes stay within 2 bits, unrelated scenes are 14 or more apart. At most 15 (the
    # index probes 4 x 697 keys there: media/near_duplicates.py).
    phash_distance: Annotated[int, msgspec.Meta(ge=0, le=15)] = 6
    # A photo's EXIF time farther than this from its packet's (corrected) event time, or
    # its EXIF position farther than this from the packet's fix, is flagged.
    exif_time_seconds: Annotated[int, msgspec.Meta(ge=0)] = 3600
    exif_gps_metres: Annotated[float, msgspec.Meta(ge=0)] = 1000.0
    # How often the thumbnail worker looks for jobs when nothing woke it.
    thumbnail_poll_seconds: float = 1.0
    # Desk logins last this long (they survive a restart: sessions live in the database).
    desk_session_seconds: int = 12 * 3600
    # The branch's time zone for the desk's pages, minutes east of UTC (China: +08:00).
    desk_utc_offset_minutes: int = 480
    # A map tile server for the case page, e.g. https://tiles.example/{z}/{x}/{y}.png
    # (empty: the map is drawn without tiles; none is needed to run).
    desk_tile_url: str = ""
    # Pushes decoded and ingested at once; the rest wait their turn. Writes take turns at
    # the database anyway, and fewer pushes competing for the event loop keep each
    # writer's turn short (bench/push.py: about a fifth more packets/s than unbounded).
    push_concurrency: int = 3
    # Whether `kancha serve` also does background jobs (thumbnails, recalculation) in its
    # own processes, as the embedded single-process setup needs; turn it off when separate
    # `kancha worker` processes do them.
    run_jobs: bool = True
    # A worker holds a job this long; if it dies, another takes the job once this is over
    # (longer than any one job takes: a thumbnail, a batch of cases to recalculate).
    job_lease_seconds: float = 60.0
    # How often a worker looks for recalculation jobs when it found none.
    job_poll_seconds: float = 1.0
    # One JSON line per request on stderr (time, method, path, status, duration_ms, pid,
    # user_id), in place of uvicorn's own access lines.
    access_log: bool = False
    # Group commit (sync/groups.py): pushes queued while a write is under way are settled
    # together, up to this many packets per transaction.
    push_group_packets: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 2000
    # On PostgreSQL, how many groups one process writes at once (SQLite: always one).
    push_writers: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `KANCHA_<FIELD>` variables; JSON for dict fields."""
        env = os.environ if env is None else env
        raw: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            name = ENV_PREFIX + field.name.upper()
            if name not in env or env[name] == "":
                continue
            value: object = env[name]
            if field.type in (dict[str, int], dict[str, dict[str, int]]):
                try:
                    value = msgspec.json.decode(env[name])
                except msgspec.DecodeError as exc:
                    raise SettingsError(f"{name}: not valid JSON ({exc})") from None
                if field.type == dict[str, dict[str, int]]:
                    _check_tables(name, value)
            elif field.type in KINDS:
                try:
                    value = msgspec.convert(value, field.type, strict=False)
                except msgspec.ValidationError:
                    raise SettingsError(
                        f"{name}: expected {KINDS[field.type]}, got {env[name]!r}"
                    ) from None
            raw[field.name] = value
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            message = str(exc).rsplit(" - at `$.", 1)[0]
            raise SettingsError(f"{_env_name(str(exc))}: {message}") from None

    @property
    def intake_rules(self) -> IntakeRules:
        """The late-report threshold and the irregular window, as the case code takes them
        (a negative one is refused, naming its variable)."""
        for name in ("late_report_seconds", "irregular_window_seconds"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{ENV_PREFIX}{name.upper()}: must not be negative")
        return IntakeRules.of_seconds(self.late_report_seconds, self.irregular_window_seconds)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_path / 'kancha.db'}"

    @property
    def resolved_media_url(self) -> str:
        if self.media_url:
            return self.media_url
        return (self.data_path / "media").as_uri()


def _check_tables(name: str, value: object) -> None:
    """`{"team or zone": {"limit key": seconds}}`, or a SettingsError naming the key."""
    if not isinstance(value, dict):
        raise SettingsError(f"{name}: expected a JSON object of tables of limits")
    for outer, table in value.items():
        if not isinstance(table, dict):
            raise SettingsError(f"{name}: {outer}: expected an object of limits, got {table!r}")
        for key, seconds in table.items():
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise SettingsError(
                    f"{name}: {outer}: {key}: expected a whole number of seconds, got {seconds!r}"
                )


def _env_name(message: str) -> str:
    """Turn msgspec's '... - at `$.max_batch_packets`' into the variable's name."""
    if "`$." in message:
        field = message.rsplit("`$.", 1)[1].split("`", 1)[0].split(".", 1)[0].split("[", 1)[0]
        return ENV_PREFIX + field.upper()
    return "KANCHA_*"
