"""When a surveyor on the way should reach the scene, from their last position fixes (pure).

Distance: from the last fix to the case location, as the crow flies (cases/geo.py).
Speed: between the last two fixes, when they show the surveyor moving at a believable
speed; otherwise (one fix only, standing still at a light, a GPS jump) the zone's default
driving speed. The ETA instant is the last fix's time plus distance / speed: a fix that is
old gives an instant in the past, and `seconds` (from now) is then 0, "expected by now".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cases.geo import distance_m

KMH = 1000 / 3600  # m/s in one km/h
# Default driving speeds when the fixes give none (km/h).
DEFAULT_SPEED_KMH: dict[str, float] = {"city": 30.0, "suburban": 50.0, "out_of_town": 60.0}
FALLBACK_SPEED_KMH = 30.0
# Slower than this between two fixes is standing still; faster, a GPS jump.
MIN_MOVING_KMH = 5.0
MAX_BELIEVABLE_KMH = 150.0

SpeedFrom = Literal["fixes", "default"]


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    at: datetime


@dataclass(frozen=True)
class Eta:
    # When the surveyor should arrive, and how long from now (0: expected by now).
    at: datetime
    seconds: int
    distance_m: float
    speed_kmh: float
    speed_from: SpeedFrom
    # The time of the fix it was computed from.
    fix_at: datetime


def speed_between(earlier: Fix, later: Fix) -> float | None:
    """km/h from one fix to the next, or None when the two give no believable speed."""
    elapsed = (later.at - earlier.at).total_seconds()
    if elapsed <= 0:
        return None
    kmh = distance_m(earlier.lat, earlier.lon, later.lat, later.lon) / elapsed / KMH
    if not MIN_MOVING_KMH <= kmh <= MAX_BELIEVABLE_KMH:
        return None
    return kmh


def eta(fixes: Sequence[Fix], lat: float, lon: float, zone: str, now: datetime) -> Eta | None:
    """The ETA at (lat, lon) from these fixes (any order; the last two by time count),
    or None without a fix."""
    if not fixes:
        return None
    ordered = sorted(fixes, key=lambda f: f.at)
    last = ordered[-1]
    measured = speed_between(ordered[-2], last) if len(ordered) > 1 else None
    speed_from: SpeedFrom = "fixes" if measured is not None else "default"
    kmh = measured if measured is not None else DEFAULT_SPEED_KMH.get(zone, FALLBACK_SPEED_KMH)
    distance = distance_m(last.lat, last.lon, lat, lon)
    arrives = last.at + timedelta(seconds=distance / (kmh * KMH))
    seconds = max(0, math.ceil((arrives - now).total_seconds()))
    return Eta(
        at=arrives,
        seconds=seconds,
        distance_m=round(distance, 1),
        speed_kmh=round(kmh, 1),
        speed_from=speed_from,
        fix_at=last.at,
    )
