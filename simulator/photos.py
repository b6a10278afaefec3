"""Real JPEGs with the EXIF a tablet camera writes: DateTimeOriginal in the tablet's (skewed)
local time with its offset, and a GPS block with the true UTC time of the fix. Doctored
ones (planted, simulator/plan.py): resized and re-encoded, stripped of EXIF, or edited."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta, timezone

from PIL import Image, ImageDraw

from simulator.plan import Photo

LOCAL = timezone(timedelta(hours=8))
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
SIZE = (640, 480)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def exif_for(photo: Photo, camera_time: datetime, true_time: datetime) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "kancha-sim"  # Make
    exif[0x0110] = "field tablet"  # Model
    local = camera_time.astimezone(LOCAL)
    stamp = local.strftime("%Y:%m:%d %H:%M:%S")
    exif[0x0132] = stamp  # DateTime
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003] = stamp  # DateTimeOriginal
    sub[0x9011] = "+08:00"  # OffsetTimeOriginal
    gps = exif.get_ifd(GPS_IFD)
    utc = true_time.astimezone(UTC)
    gps[0x0000] = b"\x02\x03\x00\x00"  # GPSVersionID
    gps[0x0001] = "N" if photo.lat >= 0 else "S"
    gps[0x0002] = _dms(photo.lat)
    gps[0x0003] = "E" if photo.lon >= 0 else "W"
    gps[0x0004] = _dms(photo.lon)
    gps[0x0007] = (float(utc.hour), float(utc.minute), float(utc.second))
    gps[0x001D] = utc.strftime("%Y:%m:%d")
    return exif


def make_jpeg(photo: Photo, camera_time: datetime, true_time: datetime) -> bytes:
    """A 640×480 picture unique to its spec: colours, shapes and a caption, plus EXIF."""
    rng = random.Random(f"{photo.case_index}/{photo.number}")
    top = tuple(rng.randrange(256) for _ in range(3))
    image = Image.new("RGB", SIZE, top)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(SIZE[0]), rng.randrange(SIZE[1])
        w, h = rng.randrange(20, 200), rng.randrange(20, 160)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((x, y, x + w, y + h), fill=colour)
    caption = f"case {photo.case_index + 1} · {photo.category} #{photo.number + 1}"
    draw.text((12, SIZE[1] - 24), caption, fill=(255, 255, 255))
    # Grain like a real sensor's, made small and enlarged: full-size noise costs 10 ms.
    noise = Image.effect_noise((SIZE[0] // 4, SIZE[1] // 4), 24).convert("RGB").resize(SIZE)
    image = Image.blend(image, noise, 0.15)
    exif, quality = exif_for(photo, camera_time, true_time), 80
    if photo.doctor == "recoded":  # another case's picture, resized and re-encoded
        image, quality = image.resize((SIZE[0] // 2, SIZE[1] // 2), Image.Resampling.BILINEAR), 60
    elif photo.doctor == "no_exif":
        exif = Image.Exif()
    elif photo.doctor == "photoshop":
        exif[0x0131] = "Adobe Photoshop 25.0 (Windows)"  # Software
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()
