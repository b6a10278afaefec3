"""Service-time limits: the defaults of domain.md, overridable per variant.

Every insurer and branch sets its own limits, so each timing looks its limit up by a
variant key (zone for arrival, loss tier for estimate and front-end cycle) in a table
that `KANCHA_LIMITS` (seconds, JSON) overrides key by key.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    """The limit table in force: defaults with the configured overrides applied, and the
    loss tiers that choose between an estimate's or a cycle's limits."""

    def __init__(
        self, overrides: Mapping[str, int] | None = None, tiers: Tiers | None = None
    ) -> None:
        self.tiers = tiers or DEFAULT_TIERS
        table = dict(DEFAULT_LIMITS)
        for key, value in (overrides or {}).items():
            if key in RENAMED:
                raise LimitsError(f"{key}: {RENAMED[key]}")
            if key not in DEFAULT_LIMITS:
                known = ", ".join(DEFAULT_LIMITS)
                raise LimitsError(f"unknown timing limit {key!r} (known: {known})")
            if isinstance(value, bool) or not isinstance(value, int):
                raise LimitsError(f"{key}: must be a whole number of seconds")
            if not 0 < value <= MAX_LIMIT:
                raise LimitsError(f"{key}: must be between 1 and {MAX_LIMIT} seconds")
            table[key] = value
        self._table = table

    def __getitem__(self, key: str) -> int:
        return self._table[key]

    def as_dict(self) -> dict[str, int]:
        return dict(self._table)
