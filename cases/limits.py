"""Service-time limits: the defaults of domain.md, overridable per variant.

Every insurer and branch sets its own limits, so each timing looks its limit up by a
variant key (zone for arrival, loss tier for estimate and front-end cycle) in a table
that `KANCHA_LIMITS` (seconds, JSON) overrides key by key. A team (the ordinary-case
team's 20 / 40 min arrival) and a zone (a county's slower accept) may set their own,
key by key: team > zone > `KANCHA_LIMITS` > defaults (`Limits.limit`).
"""

from __future__ import annotations

from collections.abc import Mapping

from cases.values import ZONES

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

DEFAULT_LIMITS: dict[str, int] = {
    # The customer's wait, report -> first arrival of anyone (as the arrival limits).
    "report_to_arrival.city": 30 * MINUTE,
    "report_to_arrival.suburban": 60 * MINUTE,
    "accept": 3 * MINUTE,
    "contact": 5 * MINUTE,
    "arrival.city": 30 * MINUTE,
    "arrival.suburban": 60 * MINUTE,
    # Out-of-town (外地委托): the delegated survey is to be arranged within 60 min of the
    # dispatch; the delegate sends nothing, so the dispatcher's `delegate` ends it.
    "delegation": 60 * MINUTE,
    # < 2,000 yuan: on site, before the surveyor leaves (2 h from arrival).
    "estimate.small": 2 * HOUR,
    # 2,000 - 10,000 yuan: 24 h from the survey's completion.
    "estimate.medium": 24 * HOUR,
    # > 10,000 yuan (after disassembly): the estimate done within 5 days.
    "estimate.large": 5 * DAY,
    # > 10,000 yuan: labour and parts fixed within 2 days of the disassembly.
    "items_fixed": 2 * DAY,
    "resubmit": 2 * DAY,
    "front_end_cycle.small": 5 * DAY,
    "front_end_cycle.large": 20 * DAY,
}

# Loss tiers by estimate amount in yuan (domain.md): small <= 2,000 (以内 includes the
# number) < medium <= 10,000 < large. KANCHA_ESTIMATE_TIERS overrides either boundary.
SMALL_MAX = 2_000
LARGE_ABOVE = 10_000
TIER_KEYS = ("small_max", "large_above")
# Longest limit accepted: a year. Anything longer is a typo, not a policy.
MAX_LIMIT = 366 * DAY


# Keys that no longer exist, with what replaced them.
RENAMED = {
    "arrival.out_of_town": "out-of-town cases are timed by `delegation` (dispatch -> "
    "delegated survey arranged), not by an arrival the delegate never sends",
}


class LimitsError(ValueError):
    """An override that cannot be used; the message names the key."""


class Tiers:
    """Loss tiers by estimate amount: which limit an estimate and a front-end cycle get."""

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        table = {"small_max": SMALL_MAX, "large_above": LARGE_ABOVE}
        for key, value in (overrides or {}).items():
            if key not in TIER_KEYS:
                raise LimitsError(f"unknown tier boundary {key!r} (known: {', '.join(TIER_KEYS)})")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LimitsError(f"{key}: must be a whole number of yuan, 0 or more")
            table[key] = value
        if table["small_max"] >= table["large_above"]:
            raise LimitsError(
                f"small_max ({table['small_max']}) must be below large_above "
                f"({table['large_above']})"
            )
        self.small_max = table["small_max"]
        self.large_above = table["large_above"]

    def estimate(self, amount: float) -> str:
        """small (on the spot when simple), medium (24 h) or large (after disassembly)."""
        if amount <= self.small_max:
            return "small"
        if amount > self.large_above:
            return "large"
        return "medium"

    def cycle(self, amount: float) -> str:
        """The front-end cycle has two tiers: cases up to large_above, and large ones."""
        return "large" if amount > self.large_above else "small"

    def as_dict(self) -> dict[str, int]:
        return {"small_max": self.small_max, "large_above": self.large_above}


DEFAULT_TIERS = Tiers()


class Limits:
    """The limit table in force: defaults with the configured overrides applied, the loss
    tiers that choose between an estimate's or a cycle's limits, and the overrides of each
    team and each zone (`limit` picks the one that applies)."""

    def __init__(
        self,
        overrides: Mapping[str, int] | None = None,
        tiers: Tiers | None = None,
        *,
        team_limits: Mapping[str, Mapping[str, int]] | None = None,
        zone_limits: Mapping[str, Mapping[str, int]] | None = None,
    ) -> None:
        self.tiers = tiers or DEFAULT_TIERS
        self._table = dict(DEFAULT_LIMITS) | _checked(overrides or {})
        self._teams: dict[str, dict[str, int]] = {}
        for team, table in (team_limits or {}).items():
            if not isinstance(team, str) or not team.strip():
                raise LimitsError("a team name must not be empty")
            self._teams[team] = _checked(table, prefix=f"{team}: ")
        self._zones: dict[str, dict[str, int]] = {}
        for zone, table in (zone_limits or {}).items():
            if zone not in ZONES:
                raise LimitsError(f"unknown zone {zone!r} (known: {', '.join(ZONES)})")
            checked = _checked(table, prefix=f"{zone}: ")
            for key in checked:
                if (variant := key.rpartition(".")[2]) in ZONES and variant != zone:
                    raise LimitsError(f"{zone}: {key}: a {variant} limit never applies here")
            self._zones[zone] = checked

    def __getitem__(self, key: str) -> int:
        """The limit of `key` for no team in particular, whatever the zone."""
        return self._table[key]

    def limit(self, key: str, *, team: str | None = None, zone: str | None = None) -> int:
        """The limit of `key` for a dispatch to `team` in a case of `zone`:
        the team's own, else the zone's, else KANCHA_LIMITS', else the default."""
        if team is not None and key in self._teams.get(team, {}):
            return self._teams[team][key]
        if zone is not None and key in self._zones.get(zone, {}):
            return self._zones[zone][key]
        return self._table[key]

    def as_dict(self) -> dict[str, int]:
        return dict(self._table)


def _checked(overrides: Mapping[str, int], prefix: str = "") -> dict[str, int]:
    """The overrides, each key known and each value a sane number of seconds; the message
    of a bad one names it (with `prefix`: the team or zone it was set for)."""
    if not isinstance(overrides, Mapping):
        raise LimitsError(f"{prefix or 'limits: '}must be an object of limits in seconds")
    for key, value in overrides.items():
        if key in RENAMED:
            raise LimitsError(f"{prefix}{key}: {RENAMED[key]}")
        if key not in DEFAULT_LIMITS:
            known = ", ".join(DEFAULT_LIMITS)
            raise LimitsError(f"{prefix}unknown timing limit {key!r} (known: {known})")
        if isinstance(value, bool) or not isinstance(value, int):
            raise LimitsError(f"{prefix}{key}: must be a whole number of seconds")
        if not 0 < value <= MAX_LIMIT:
            raise LimitsError(f"{prefix}{key}: must be between 1 and {MAX_LIMIT} seconds")
    return dict(overrides)
