"""EXIF facts a reviewer and the fraud checks need: when and where a photo was taken.

Cameras write local time without a zone unless OffsetTimeOriginal is present; such times
are read in the configured default offset (China Standard Time unless told otherwise).
A photo is never refused over its EXIF: a time or position that is there but absurd
(a date that is no date once in UTC, zero denominators, degrees past the poles) is left
out and flagged instead, so the reviewer sees the EXIF could not be trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import Image

ORIENTATION = 0x0112
SOFTWARE = 0x0131
DATETIME = 0x0132
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
# Flags of a photo whose EXIF has a time or a position that cannot be read as one.
TIME_INVALID = "exif_time_invalid"
GPS_INVALID = "exif_gps_invalid"


class Absurd(ValueError):
    """A tag that is present but holds no usable value."""


@dataclass(frozen=True)
class ExifFacts:
    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    orientation: int = 1
    flags: tuple[str, ...] = ()
    present: bool = False  # any EXIF at all (a camera writes some; a screenshot none)
    software: str | None = None  # the Software tag, as written (trimmed, at most 200)


def read_exif(image: Image.Image, *, utc_offset_minutes: int = 480) -> ExifFacts:
    try:
        exif = image.getexif()
    except Exception:  # malformed EXIF must not refuse the photo
        return ExifFacts(flags=(TIME_INVALID, GPS_INVALID), present=True)
    flags: list[str] = []
    try:
        ifd = exif.get_ifd(EXIF_IFD)
        taken_at = _time(
            ifd.get(DATETIME_ORIGINAL) or exif.get(DATETIME),
            ifd.get(OFFSET_TIME_ORIGINAL),
            utc_offset_minutes,
        )
    except Exception:  # Absurd, or whatever else a hostile IFD makes Pillow raise
        taken_at = None
        flags.append(TIME_INVALID)
    try:
        lat, lon = _position(exif.get_ifd(GPS_IFD))
    except Exception:
        lat = lon = None
        flags.append(GPS_INVALID)
    orientation = exif.get(ORIENTATION, 1)
    return ExifFacts(
        taken_at=taken_at,
        lat=lat,
        lon=lon,
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1,
        flags=tuple(flags),
        present=len(exif) > 0,
        software=_text(exif.get(SOFTWARE)),
    )


def _text(value: Any) -> str | None:
    """A text tag as str, None when absent or blank. EXIF says ASCII, but Chinese apps
    write UTF-8, which Pillow hands over read as Latin-1: read back as UTF-8 when it is."""
    if isinstance(value, str):
        try:
            value = value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ")[:200] or None


def _time(value: Any, offset: Any, default_offset_minutes: int) -> datetime | None:
    """The UTC time of an EXIF date; None when there is none; Absurd when it is no time."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise Absurd(f"not text: {value!r}")
    text = value.strip("\x00 ")
    if not text.strip(" :0"):  # blank or all zeros: a camera whose clock was never set
        return None
    try:
        naive = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        raise Absurd(f"not a date: {text[:40]!r}") from None
    zone = _zone(offset) or timezone(timedelta(minutes=default_offset_minutes))
    try:  # 0001-01-01 at +08:00 is before year 1 in UTC
        return naive.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:
        raise Absurd(f"outside years 1-9999 in UTC: {text[:40]!r}") from None


def _position(gps: Any) -> tuple[float | None, float | None]:
    """(lat, lon) of a GPS IFD; (None, None) when it has none; Absurd when it is no place."""
    lat_value, lon_value = gps.get(GPS_LAT), gps.get(GPS_LON)
    if lat_value is None and lon_value is None:
        return None, None
    lat = _coordinate(lat_value, gps.get(GPS_LAT_REF), "NS", 90)
    lon = _coordinate(lon_value, gps.get(GPS_LON_REF), "EW", 180)
    return lat, lon


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


def _coordinate(value: Any, ref: Any, hemispheres: str, limit: float) -> float:
    """Degrees, minutes, seconds (rationals) and a hemisphere letter -> signed degrees;
    Absurd for anything else (a zero denominator, a negative part, past the limit)."""
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        raise Absurd(f"not degrees, minutes, seconds: {value!r}"[:80]) from None
    parts = (degrees, minutes, seconds)
    if not all(math.isfinite(part) and part >= 0 for part in parts):
        raise Absurd(f"not finite and non-negative: {parts}")
    result = degrees + minutes / 60 + seconds / 3600
    if result > limit:
        raise Absurd(f"{result} degrees is past {limit}")
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    letter = ref.strip("\x00 ").upper() if isinstance(ref, str) else ""
    if letter not in ("", *hemispheres):
        raise Absurd(f"hemisphere {letter[:8]!r} is not one of {hemispheres}")
    return -result if letter == hemispheres[1] else result
