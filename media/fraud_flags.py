"""The names of every photo flag, and the metadata checks that compare a photo with its packet.

Flags are short snake_case names, read by the API, the desk and the anti-fraud listing;
each new one comes with a reason in words (`reasons`), shown beside it. A photo is never
refused over them: they are computed when the case's media are listed, from what is stored
of the photo (EXIF facts read at upload, the pHash the thumbnail worker adds) and of the
packet that references it, so the order photo and packet arrive in does not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cases.geo import distance_m
from media.exif import GPS_INVALID, TIME_INVALID

# Already there before issue 16 (media.catalog, media.exif).
FAR_FROM_SCENE = "far_from_scene"
TAKEN_BEFORE_REPORT = "taken_before_report"
REUSED_ON_OTHER_CASE = "reused_on_other_case"
HELD = "held"
EXIF_TIME_INVALID = TIME_INVALID
EXIF_GPS_INVALID = GPS_INVALID
# Issue 16: recycled and doctored photos.
NEAR_DUPLICATE = "near_duplicate"  # pHash within KANCHA_PHASH_DISTANCE of another case's
NO_EXIF = "no_exif"  # a JPEG of a photo packet without any EXIF (cameras always write some)
EDITING_SOFTWARE = "editing_software"  # EXIF Software names an editor
EXIF_TIME_FAR = "exif_time_far"  # EXIF time far from the packet's event time (and clock)
EXIF_GPS_FAR = "exif_gps_far"  # EXIF position far from the packet's fix
SCREENSHOT = "screenshot"  # a PNG, or a screen's exact size without EXIF

PHOTO_FLAGS = (
    FAR_FROM_SCENE,
    TAKEN_BEFORE_REPORT,
    REUSED_ON_OTHER_CASE,
    HELD,
    EXIF_TIME_INVALID,
    EXIF_GPS_INVALID,
    NEAR_DUPLICATE,
    NO_EXIF,
    EDITING_SOFTWARE,
    EXIF_TIME_FAR,
    EXIF_GPS_FAR,
    SCREENSHOT,
)

# Software tags of editors (case-insensitive, anywhere in the tag). Phone firmware and
# camera apps ("Android", "HDR+", "iOS 17.2", "MediaTek Camera") are not among them.
EDITORS = re.compile(
    r"photoshop|lightroom|gimp|snapseed|picsart|meitu|美图|美颜|醒图|光影魔术手|pixlr|"
    r"affinity photo|facetune|polarr|paint\.net|photoscape|acdsee|pixelmator|luminar|"
    r"capture one|fotor|inshot|b612|faceu",
    re.IGNORECASE,
)
# Exact sizes of common phone, tablet and monitor screens (either orientation): a camera
# sensor's sizes (4:3 mostly, 4000x3000, 4032x3024...) are not among them.
SCREENS = {
    (w, h)
    for w, h in (
        (750, 1334), (828, 1792), (1080, 1920), (1080, 2340), (1080, 2400), (1125, 2436),
        (1170, 2532), (1179, 2556), (1242, 2688), (1284, 2778), (1290, 2796), (1440, 2560),
        (1440, 3200), (720, 1280), (720, 1600), (1366, 768), (1280, 800), (1440, 900),
        (1536, 2048), (1600, 2560), (1620, 2160), (1640, 2360), (1668, 2388), (2048, 2732),
        (1920, 1080), (1920, 1200), (2560, 1440), (2560, 1600), (2880, 1800), (3840, 2160),
    )
    for w, h in ((w, h), (h, w))
}  # fmt: skip
JPEG, PNG = "image/jpeg", "image/png"


@dataclass(frozen=True)
class PhotoChecks:
    """The thresholds of the checks (server settings)."""

    max_distance_m: float = 1000.0
    max_age_seconds: int = 24 * 3600
    phash_distance: int = 6
    exif_time_seconds: int = 3600
    exif_gps_metres: float = 1000.0


@dataclass(frozen=True)
class PacketFacts:
    """What a check needs of the packet referencing a photo: its kind, its believed time
    (cases.timeline.event_time), the time its tablet's clock gave, and its fix."""

    kind: str
    time: datetime
    device_time: datetime
    lat: float | None
    lon: float | None


def metadata_flags(media, packet: PacketFacts | None, checks: PhotoChecks) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Flag -> reason for what the photo's EXIF says against itself and its packet."""
    out: dict[str, str] = {}
    software = media.exif_software
    if software and EDITORS.search(software):
        out[EDITING_SOFTWARE] = f"EXIF Software is {software!r}"
    if _screenshot(media):
        size = f"{media.width}x{media.height}"
        out[SCREENSHOT] = (
            f"a PNG ({size}), as screenshots are"
            if media.content_type == PNG
            else f"{size} is a screen's size, and it has no EXIF"
        )
    elif (
        packet is not None
        and packet.kind == "photo"
        and media.content_type == JPEG
        and media.exif_present is False
    ):
        out[NO_EXIF] = "a camera photo (JPEG) without any EXIF: removed, or not from a camera"
    if packet is None:
        return out
    if media.taken_at is not None:
        # The tablet's camera stamps its own clock: a wrong clock makes both the packet's
        # time and the EXIF wrong alike, so only a time far from both is flagged.
        seconds = (media.taken_at - packet.time).total_seconds()
        own = (media.taken_at - packet.device_time).total_seconds()
        if min(abs(seconds), abs(own)) > checks.exif_time_seconds:
            side = "before" if seconds < 0 else "after"
            out[EXIF_TIME_FAR] = f"EXIF time is {_span(abs(seconds))} {side} the event"
    if None not in (media.lat, media.lon, packet.lat, packet.lon):
        metres = distance_m(media.lat, media.lon, packet.lat, packet.lon)
        if metres > checks.exif_gps_metres:
            out[EXIF_GPS_FAR] = f"EXIF position is {metres / 1000:.1f} km from the event's fix"
    return out


def _screenshot(media) -> bool:  # type: ignore[no-untyped-def]
    if media.content_type == PNG:
        return True
    return (
        media.content_type == JPEG
        and media.exif_present is False
        and (media.width, media.height) in SCREENS
    )


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
