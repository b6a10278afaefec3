"""EXIF facts a reviewer and the fraud checks need: when and where a photo was taken.

Cameras write local time without a zone unless OffsetTimeOriginal is present; such times
are read in the configured default offset (China Standard Time unless told otherwise).
Anything unreadable is treated as absent: a photo is never refused over its EXIF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import Image

ORIENTATION = 0x0112
DATETIME = 0x0132
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4


@dataclass(frozen=True)
class ExifFacts:
    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    orientation: int = 1


def read_exif(image: Image.Image, *, utc_offset_minutes: int = 480) -> ExifFacts:
    try:
        exif = image.getexif()
        ifd = exif.get_ifd(EXIF_IFD)
        gps = exif.get_ifd(GPS_IFD)
    except Exception:  # malformed EXIF must not refuse the photo
        return ExifFacts()
    orientation = exif.get(ORIENTATION, 1)
    taken_at = _time(
        ifd.get(DATETIME_ORIGINAL) or exif.get(DATETIME),
        ifd.get(OFFSET_TIME_ORIGINAL),
        utc_offset_minutes,
    )
    lat = _coordinate(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "S", 90)
    lon = _coordinate(gps.get(GPS_LON), gps.get(GPS_LON_REF), "W", 180)
    if lat is None or lon is None:
        lat = lon = None
    return ExifFacts(
        taken_at=taken_at,
        lat=lat,
        lon=lon,
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1,
    )


def _time(value: Any, offset: Any, default_offset_minutes: int) -> datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    try:
        naive = datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = _zone(offset) or timezone(timedelta(minutes=default_offset_minutes))
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _zone(offset: Any) -> timezone | None:
    """'+08:00' -> UTC+8; anything else -> None."""
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    if not isinstance(offset, str):
        return None
    text = offset.strip("\x00 ")
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        minutes = int(text[1:3]) * 60 + int(text[4:6])
    except ValueError:
        return None
    if minutes >= 24 * 60:
        return None
    return timezone(timedelta(minutes=minutes if text[0] == "+" else -minutes))


def _coordinate(value: Any, ref: Any, negative: str, limit: float) -> float | None:
    """Degrees, minutes, seconds (rationals) and a hemisphere letter -> signed degrees."""
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(result) or result > limit:
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative:
        result = -result
    return result


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))
