"""Tables of the tablet protocol: devices and their clocks, re-sends that conflicted with
what was stored first, and the server's own secrets (the key that signs pull cursors)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cases.models import Base, UTCDateTime


class Device(Base):
    """A tablet: owned by the surveyor who first pushed from it; its settled position."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    surveyor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_push_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Every seq up to here is settled (stored or rejected); max_seq is the highest seen.
    acked_through: Mapped[int] = mapped_column(BigInteger, default=0)
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The latest estimate of server clock minus tablet clock.
    clock_offset_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class ClockSample(Base):
    """One push's view of a tablet's clock: the history behind each correction."""

    __tablename__ = "clock_samples"
    __table_args__ = (Index("ix_clock_samples_device_id_id", "device_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    offset_ms: Mapped[int] = mapped_column(BigInteger)


class PacketConflict(Base):
    """A re-send under a settled packet_id or seq with other content: kept for the desk,
    while the packet stored first stays as it was."""

    __tablename__ = "packet_conflicts"
    __table_args__ = (Index("ix_packet_conflicts_device_id", "device_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_format: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ServerSecret(Base):
    """Secrets the server makes for itself on first need (e.g. the key that signs cursors)."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class PacketChain(Base):
    """One link of a device's hash chain over its settled packets (sync/chain.py): what was
    hashed, kept beside the digest, so `kancha verify` can name the field that changed."""

    __tablename__ = "packet_chain"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(64), unique=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    media: Mapped[str] = mapped_column(Text)  # SHA-256s, comma-separated, in packet order
    prev: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))


class OdkSubmission(Base):
    """An ODK Collect submission (OpenRosa), by its instanceID: the XML verbatim as first
    received, and the seqs its packets hold on the device, allocated once so that a re-send
    maps to the same packets. `completed_at` is set once every part has arrived and the
    packets were settled through the same push path as the JSON protocol."""

    __tablename__ = "odk_submissions"

    instance_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(32))
    surveyor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of `xml`
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    seq_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OdkAttachment(Base):
    """A file of a submission as it arrived (in any of its parts), by the name the XML gives
    it; the bytes are in the media store under `sha256`."""

    __tablename__ = "odk_attachments"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("odk_submissions.instance_id"), primary_key=True
    )
    filename: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OdkDeviceSeq(Base):
    """The last seq handed to a Collect device's submissions (Collect itself has none)."""

    __tablename__ = "odk_device_seqs"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
