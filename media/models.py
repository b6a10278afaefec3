"""Tables of stored media: one row per distinct object, keyed by its SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from sync.models import Base, UTCDateTime


class MediaObject(Base):
    """A photo or document held in the object store; the row exists only once the bytes
    are durably stored under their content key, so `media_wanted` can trust it."""

    __tablename__ = "media_objects"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
