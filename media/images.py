"""What a stored file is: its type by magic bytes and a Pillow check, its size in pixels.

The header is read first, and an image with more pixels than the limit is refused as a
decompression bomb before anything is decoded (for HEIF also the sizes its `ispe` boxes
declare, which is what libheif allocates). Then its structure must be whole: a JPEG's
markers up to its first scan, and an EOI after it (entropy-coded data can hold no FFD9, so
a file cut anywhere in its image data has none); a PNG by its chunk checksums up to IEND;
a HEIF must decode in full (at most MAX_PIXELS); a PDF must have its header and `%%EOF`
trailer. So a truncated file is refused (422) rather than stored and later unreadable.
A JPEG is not decoded here: that took 30-100 ms a photo on the upload's path, three
times the cost of writing it; the thumbnail worker decodes it once anyway, and one whose
image data is corrupt within (bits flipped, not cut) gets a failed thumbnail job.
"""

from __future__ import annotations

import mmap
import re
import struct
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from cases.refusal import Refusal
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


class BodyRefused(Refusal):
    """A file that will not be stored, for what its bytes are (the upload's `body`)."""

    def __init__(self, message: str) -> None:
        super().__init__("body", message)


class NotMedia(BodyRefused):
    """Not a JPEG, PNG, HEIC/HEIF or PDF."""

    status = 415


class DecompressionBomb(BodyRefused):
    """An image whose pixel count would blow up memory when decoded."""

    status = 422


class BrokenMedia(BodyRefused):
    """A JPEG, PNG, HEIF or PDF that is truncated or corrupt: it does not decode."""

    status = 422


PDF_HEADER = re.compile(rb"%PDF-\d\.\d")
PDF_TAIL_BYTES = 1024  # readers look for %%EOF this close to the end
NAMES = {JPEG: "JPEG", PNG: "PNG", HEIC: "HEIC", HEIF: "HEIF", PDF: "PDF"}


@dataclass(frozen=True)
class MediaFacts:
    content_type: str
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    flags: tuple[str, ...] = ()  # EXIF found absurd (media.exif)


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
    if content_type == PDF:
        _check_pdf(path)
        return MediaFacts(content_type)
    if content_type in (HEIC, HEIF):
        _check_bmff_sizes(path, content_type)
        if not HEIF_DECODER:
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
                _check_pixels(width, height)
                if image.format == "PNG":
                    exif = ExifFacts()  # PNG's getexif() would decode the pixels
                else:
                    exif = read_exif(image, utc_offset_minutes=exif_utc_offset_minutes)
                _decode(image, content_type, path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecompressionBomb(f"{exc} (decompression bomb refused)") from None
    except BodyRefused:
        raise
    except Exception as exc:  # whatever Pillow raises over a file it cannot parse
        raise NotMedia(f"{content_type} that Pillow cannot read: {exc}") from None
    if exif.orientation in (5, 6, 7, 8):  # rotated a quarter turn: report what is seen
        width, height = height, width
    return _facts(content_type, width, height, exif)


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise DecompressionBomb(
            f"{width}x{height} pixels is over the limit of {MAX_PIXELS} "
            "(decompression bomb refused)"
        )


def _decode(image: Image.Image, content_type: str, path: Path) -> None:
    """Check the image is whole (see the module docstring); BrokenMedia if it isn't."""
    name = NAMES[content_type]
    try:
        if image.format == "PNG":
            image.verify()  # chunk CRCs up to IEND, without decompressing the pixels
            return
        if image.format in ("JPEG", "MPO"):
            _check_jpeg_whole(path)
            return
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except Exception as exc:
        text = str(exc).strip()
        why = "truncated" if re.search("truncated|end of file", text, re.I) else "corrupt"
        raise BrokenMedia(f"{why} {name} (it does not decode: {text})") from None


def _check_jpeg_whole(path: Path) -> None:
    """Markers from SOI to the first scan (SOS), then an EOI somewhere after it."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        pos, size = 2, len(data)
        while True:
            if pos + 4 > size:
                raise BrokenMedia("truncated JPEG (it ends within its headers)")
            if data[pos] != 0xFF:
                raise BrokenMedia(f"corrupt JPEG (no marker at byte {pos} of its headers)")
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte before a marker
                pos += 1
                continue
            if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                pos += 2
                continue
            if marker == 0xD9:
                raise BrokenMedia("corrupt JPEG (it ends before any image data)")
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if length < 2:
                raise BrokenMedia(f"corrupt JPEG (a segment of length {length})")
            pos += 2 + length
            if marker == 0xDA:  # start of scan: entropy-coded data follows
                break
        if data.rfind(b"\xff\xd9", min(pos, size)) == -1:
            raise BrokenMedia("truncated JPEG (its image data has no end: EOI missing)")


def _check_pdf(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(max(0, size - PDF_TAIL_BYTES))
        tail = f.read()
    if not PDF_HEADER.match(head):
        raise BrokenMedia("PDF without a version in its header (%PDF-1.x)")
    if b"%%EOF" not in tail:
        raise BrokenMedia("truncated PDF (no %%EOF trailer)")


def _check_bmff_sizes(path: Path, content_type: str) -> None:
    """Refuse a HEIF any of whose `ispe` boxes declares more than MAX_PIXELS: libheif
    allocates that size whatever smaller size the header reports after cropping."""
    with open(path, "rb") as f:
        meta = _bmff_box(f, b"meta", limit=path.stat().st_size)
    if meta is None:
        raise NotMedia(f"{NAMES[content_type]} without a meta box")
    start = 0
    while (found := meta.find(b"ispe", start)) != -1:
        start = found + 4
        if found >= 4 and len(meta) >= found + 16:
            (box_size,) = struct.unpack(">I", meta[found - 4 : found])
            if box_size == 20:  # size, 'ispe', version+flags, width, height
                width, height = struct.unpack(">II", meta[found + 8 : found + 16])
                _check_pixels(width, height)


META_MAX_BYTES = 4 * 1024 * 1024


def _bmff_box(f, box_type: bytes, limit: int) -> bytes | None:  # type: ignore[no-untyped-def]
    """The payload of the first top-level ISO-BMFF box of `box_type` (bounded), or None."""
    offset = 0
    while offset + 8 <= limit:
        f.seek(offset)
        header = f.read(16)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header[:8])
        skip = 8
        if size == 1 and len(header) == 16:
            (size,) = struct.unpack(">Q", header[8:16])
            skip = 16
        elif size == 0:
            size = limit - offset
        if size < skip:
            return None
        if kind == box_type:
            f.seek(offset + skip)
            return f.read(min(size - skip, META_MAX_BYTES))
        offset += size
    return None


def _facts(content_type: str, width: int, height: int, exif: ExifFacts) -> MediaFacts:
    return MediaFacts(
        content_type=content_type,
        width=width,
        height=height,
        taken_at=exif.taken_at,
        lat=exif.lat,
        lon=exif.lon,
        flags=exif.flags,
    )
