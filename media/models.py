"""Tables of stored media: one row per distinct object keyed by its SHA-256, which packets
reference it (how a photo finds its case), the resumable uploads on their way in, and the
thumbnail jobs the worker works through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cases.models import Base, UTCDateTime


class MediaObject(Base):
    """A photo or document held in the object store; the row exists only once the bytes
    are durably stored under their content key, so `media_wanted` can trust it."""

    __tablename__ = "media_objects"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Pixels as displayed (EXIF orientation applied); None for PDFs.
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # From EXIF when present: when and where the photo was taken.
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    # EXIF found absurd and left out (media.exif flags), comma-separated; "" when none.
    exif_flags: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Whether the image carries any EXIF at all (None: not an image, or stored before
    # this was read), and its Software tag: what media.fraud_flags checks.
    exif_present: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    exif_software: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The 64-bit pHash (media.phash) as a signed BIGINT, set by the thumbnail worker.
    phash: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ThumbnailJob(Base):
    """One per stored object, written with it: `pending` until the worker has stored both
    thumbnails (`done`), or given up (`failed`); `none` for what has no thumbnail (PDF)."""

    __tablename__ = "thumbnail_jobs"
    __table_args__ = (Index("ix_thumbnail_jobs_status", "status"),)

    sha256: Mapped[str] = mapped_column(ForeignKey("media_objects.sha256"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The worker working on it and until when (cases/jobs.py): past the lease, another takes it.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(100), nullable=True)


class TusUpload(Base):
    """A resumable (tus) upload: what was declared at creation, and where its bytes are.

    On a disk store its bytes so far are a local part file whose size is the offset. On S3
    (`media/tus_s3.py`) they are the parts of an S3 multipart upload (`TusPart`) plus an
    incomplete tail object under 5 MiB, and the offset is `offset_bytes`: the database is
    what lets any server answer HEAD and resume.
    """

    __tablename__ = "tus_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Upload-Metadata exactly as sent, echoed back by HEAD.
    metadata_header: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # S3 only: bytes acknowledged, of which the last `tail_bytes` are the tail object.
    offset_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tail_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    multipart_id: Mapped[str | None] = mapped_column(Text, nullable=True)


class TusPart(Base):
    """One uploaded part of a tus upload's S3 multipart upload (numbered from 1)."""

    __tablename__ = "tus_upload_parts"

    upload_id: Mapped[str] = mapped_column(ForeignKey("tus_uploads.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    etag: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)


class PacketMedia(Base):
    """A media object a packet references: how photos find their case, in either order."""

    __tablename__ = "packet_media"

    packet_id: Mapped[str] = mapped_column(ForeignKey("packets.packet_id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)


class PhashSegment(Base):
    """The near-duplicate index (media.near_duplicates): one row per 16-bit segment of a
    photo's pHash, keyed `segment_no << 16 | value`, so candidates are found by equality.
    The whole hash is in the key too, so a look-up reads the primary key index alone."""

    __tablename__ = "media_phash_segments"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    phash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(ForeignKey("media_objects.sha256"), primary_key=True)
