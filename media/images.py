"""What a stored file is: its type by magic bytes and a Pillow check, its size in pixels.

Images are opened, never decoded here: Pillow reads only the header, and one with more
pixels than the limit is refused as a decompression bomb before anything is decoded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from media.exif import ExifFacts, read_exif

try:  # HEIC/HEIF decoding is optional: without it such files are checked by magic only.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_DECODER = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_DECODER = False

JPEG, PNG, HEIC, HEIF, PDF = (
    "image/jpeg",
    "image/png",
    "image/heic",
    "image/heif",
    "application/pdf",
)
# ISO-BMFF brands of HEIC (HEVC-coded) and other HEIF images.
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
# Largest image accepted, in pixels: a 12 MP photo is 12e6; 100 MP leaves room for any phone.
MAX_PIXELS = 100_000_000
PILLOW_FORMATS = {JPEG: {"JPEG", "MPO"}, PNG: {"PNG"}, HEIC: {"HEIF"}, HEIF: {"HEIF"}}


class NotMedia(ValueError):
    """Not a JPEG, PNG, HEIC/HEIF or PDF (415)."""


class DecompressionBomb(ValueError):
    """An image whose pixel count would blow up memory when decoded (422)."""


@dataclass(frozen=True)
class MediaFacts:
    content_type: str
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None


def sniff(head: bytes) -> str | None:
    """The content type announced by the first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"%PDF-"):
        return PDF
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 64), 4)}
        if brands & HEIC_BRANDS:
            return HEIC
        if brands & HEIF_BRANDS:
            return HEIF
    return None


def describe(path: Path, *, exif_utc_offset_minutes: int = 480) -> MediaFacts:
    """Check the file at `path` really is what its magic bytes say; read its facts."""
    with open(path, "rb") as f:
        head = f.read(64)
    content_type = sniff(head)
    if content_type is None:
        raise NotMedia("not a JPEG, PNG, HEIC/HEIF or PDF")
    if content_type == PDF or (content_type in (HEIC, HEIF) and not HEIF_DECODER):
        return MediaFacts(content_type)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format not in PILLOW_FORMATS[content_type]:
                    raise NotMedia(
                        f"bytes look like {content_type} but Pillow reads {image.format}"
                    )
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise DecompressionBomb(
                        f"{width}x{height} pixels is over the limit of {MAX_PIXELS} "
                        "(decompression bomb refused)"
                    )
                if image.format == "PNG":
                    exif = ExifFacts()  # PNG's getexif() would decode the pixels
                    image.verify()  # chunk CRCs, without decompressing the pixels
                else:
                    exif = read_exif(image, utc_offset_minutes=exif_utc_offset_minutes)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecompressionBomb(f"{exc} (decompression bomb refused)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, NotMedia | DecompressionBomb):
            raise
        raise NotMedia(f"{content_type} that Pillow cannot read: {exc}") from None
    if exif.orientation in (5, 6, 7, 8):  # rotated a quarter turn: report what is seen
        width, height = height, width
    return _facts(content_type, width, height, exif)


def _facts(content_type: str, width: int, height: int, exif: ExifFacts) -> MediaFacts:
    return MediaFacts(
        content_type=content_type,
        width=width,
        height=height,
        taken_at=exif.taken_at,
        lat=exif.lat,
        lon=exif.lon,
    )
