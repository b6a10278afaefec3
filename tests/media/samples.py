"""Sample media made on the spot: JPEGs with real EXIF (time, GPS, orientation), PNGs,
PDFs, HEIC-looking files, and refusals (not media, bombs). Shared with bench/media.py."""

from __future__ import annotations

import functools
import hashlib
import io
import random
from datetime import datetime
from fractions import Fraction

from PIL import Image

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (Fraction(degrees), Fraction(minutes), Fraction(seconds).limit_denominator(10000))


def photo(
    width: int = 640,
    height: int = 480,
    *,
    taken_at: datetime | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    orientation: int | None = None,
    seed: int = 0,
    quality: int = 85,
    noise: bool = False,
    camera: bool = True,
    software: str | None = None,
) -> bytes:
    """A JPEG photo; `taken_at` is written as camera-local time (with `offset` if given).
    A camera's Make and Model are written unless `camera` is False (so with no other tag
    the JPEG has no EXIF at all); `software` is written as the Software tag."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height))
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    image = Image.merge("RGB", (base, Image.new("L", (width, height), colour[1]), base.rotate(90)))
    if noise:
        grain = Image.effect_noise((width, height), 24).convert("RGB")
        image = Image.blend(image, grain, 0.35)
    image.putpixel((seed % width, 0), colour)  # different seeds, different bytes
    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = "KanchaCam", "K1"
    if software is not None:  # as apps write it: UTF-8 when not ASCII
        exif[0x0131] = software if software.isascii() else software.encode()
    if orientation is not None:
        exif[0x0112] = orientation
    if taken_at is not None:
        exif[0x0132] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(EXIF_IFD)[0x9003] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        if offset is not None:
            exif.get_ifd(EXIF_IFD)[0x9011] = offset
    if gps is not None:
        lat, lon = gps
        ifd = exif.get_ifd(GPS_IFD)
        ifd[1] = "N" if lat >= 0 else "S"
        ifd[2] = _dms(lat)
        ifd[3] = "E" if lon >= 0 else "W"
        ifd[4] = _dms(lon)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def heic(width: int = 64, height: int = 48) -> bytes:
    """A real HEIC (HEVC-coded HEIF), as phones write them."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, "HEIF")
    return buffer.getvalue()


def fake_heic() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"rubbish" * 50


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


@functools.cache
def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny PNG that claims 400 megapixels: decoding it would need over 1 GiB."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def fake_jpeg() -> bytes:
    """JPEG magic bytes followed by rubbish: magic alone must not pass."""
    return b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 100


def scene(seed: int, width: int = 1024, height: int = 768, **tags) -> bytes:  # type: ignore[no-untyped-def]
    """A JPEG of a made-up scene (coloured shapes over grain, different for each seed) with
    a camera's EXIF; `tags` as for `photo`'s (taken_at, gps, software, camera)."""
    from PIL import ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(50, width // 2), y0 + rng.randrange(50, height // 2)
        fill = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
    image = Image.blend(image, Image.effect_noise((width, height), 40).convert("RGB"), 0.15)
    return _with_exif(image, 90, **tags)


def _with_exif(
    image: Image.Image,
    quality: int,
    *,
    taken_at: datetime | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    software: str | None = None,
    camera: bool = True,
) -> bytes:
    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = "KanchaCam", "K1"
    if software is not None:  # as apps write it: UTF-8 when not ASCII
        exif[0x0131] = software if software.isascii() else software.encode()
    if taken_at is not None:
        exif.get_ifd(EXIF_IFD)[0x9003] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        if offset is not None:
            exif.get_ifd(EXIF_IFD)[0x9011] = offset
    if gps is not None:
        ifd = exif.get_ifd(GPS_IFD)
        ifd[1], ifd[2] = ("N" if gps[0] >= 0 else "S"), _dms(gps[0])
        ifd[3], ifd[4] = ("E" if gps[1] >= 0 else "W"), _dms(gps[1])
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def recoded(data: bytes, quality: int = 60, scale: float = 0.5, **tags) -> bytes:  # type: ignore[no-untyped-def]
    """Another JPEG of the same picture: resized by `scale`, re-encoded at `quality`, with
    fresh EXIF (`tags` as for `scene`): what a recycled photo looks like."""
    with Image.open(io.BytesIO(data)) as image:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        smaller = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    return _with_exif(smaller, quality, **tags)


def screen_jpeg(width: int = 1170, height: int = 2532) -> bytes:
    """A JPEG the size of a phone's screen with no EXIF: a screenshot saved as JPEG."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 240)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
