"""Tables of the case lifecycle: users, cases, dispatches, the packet log and what is
derived from it (timings, progress, positions, the change feed).

These are the bottom of kancha: `sync/` and `media/` add their own tables on the same
`Base` and import these, never the other way round. The packet log lives here because
every timing is derived from it; `sync/` is what fills it. All times are stored in UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no tz) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        value = _in_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect):  # type: ignore[override]
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # One call per value where SQLAlchemy would chain two (this and SQLite DATETIME's
        # %-format): the packet log binds five times per packet. Same text as DATETIME.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            return _in_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # SHA-256 of the API token: tokens are random, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A surveyor's team (e.g. "ordinary", "large"): its limits may differ (cases/limits.py).
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A reviewer's approval authority in yuan (核损权限); None: no limit.
    max_approve: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Desk login (argon2, cases/passwords.py); None: no desk login (tablets use tokens).
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)


class DeskSession(Base):
    """A desk login: the cookie holds a random token, the row its SHA-256, so sessions
    survive a restart and a stolen database holds none; `csrf` guards its forms."""

    __tablename__ = "desk_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_no: Mapped[str] = mapped_column(String(64), unique=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(String(20))
    plate: Mapped[str | None] = mapped_column(String(32), nullable=True)
    simple_procedure: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the accident happened, if known: a report long after it is 延时报案.
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Opened by a surveyor from the tablet (irregular report), not by a dispatcher.
    self_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    # Delegated to this branch by another (外地委托 received): who asked, their reference.
    delegated_from: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="reported")
    # The surveyor the case is dispatched to now (the last dispatch), if any.
    surveyor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), nullable=True, index=True
    )
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Position in the change feed (see cases/changes.py): what a pull cursor compares.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)

    surveyor: Mapped[User | None] = relationship(foreign_keys=[surveyor_id], lazy="raise")
    # Who opened it (a surveyor when self_reported).
    opened_by: Mapped[User] = relationship(foreign_keys=[created_by], lazy="raise")
    dispatches: Mapped[list[Dispatch]] = relationship(
        back_populates="case", order_by="Dispatch.id", lazy="raise"
    )


class Dispatch(Base):
    """Every dispatch and re-dispatch, with the server's time: the timings start here."""

    __tablename__ = "dispatches"
    __table_args__ = (Index("ix_dispatches_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    surveyor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    dispatched_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # scene | estimate | resurvey | documents: only a scene dispatch restarts scene timings.
    purpose: Mapped[str] = mapped_column(String(16), default="scene", server_default="scene")
    # The surveyor's team when dispatched: the limits in force for this dispatch.
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)

    case: Mapped[Case] = relationship(back_populates="dispatches", lazy="raise")
    surveyor: Mapped[User] = relationship(foreign_keys=[surveyor_id], lazy="raise")


class Packet(Base):
    """The append-only packet log: every settled packet, verbatim, accepted or rejected.

    Nothing updates or deletes a row (triggers refuse it); what is derived from a packet
    later (timings, flags) is computed from these rows, never written back into them.
    """

    __tablename__ = "packets"
    __table_args__ = (
        UniqueConstraint("device_id", "seq", name="uq_packets_device_id_seq"),
        Index("ix_packets_case_id_status", "case_id", "status"),
    )

    packet_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    # Not a foreign key: a packet for an unknown case is kept, rejected, all the same.
    case_id: Mapped[str] = mapped_column(String(64))
    surveyor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # accepted | rejected | held
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # SHA-256 of the packet's canonical form: what decides duplicate against conflict.
    digest: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the packet exactly as received
    body_format: Mapped[str] = mapped_column(String(8))  # json | msgpack
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # occurred_at as the tablet's clock said, and corrected by the push's clock offset.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    clock_offset_ms: Mapped[int] = mapped_column(BigInteger)
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    fix_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The tablet's monotonic clock (boot id, ms since boot) and the event time it gives
    # when the push carried the same boot: exact across wall-clock corrections.
    boot_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    elapsed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    monotonic_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaseAction(Base):
    """The desk's acts on a case other than dispatch and review, append-only: `delegated`
    (out-of-town survey arranged, to whom, their reference), `closed` (with the reason),
    `reopened`. Timings and the case's state derive from them like from the packet log."""

    __tablename__ = "case_actions"
    __table_args__ = (Index("ix_case_actions_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    target: Mapped[str | None] = mapped_column(Text, nullable=True)  # delegated to whom
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)


class Counter(Base):
    """Named counters; `changes` numbers the change feed (one row, locked while bumped)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# -- timings and review: derived from the packet log, recomputable at will --------------


class Review(Base):
    """A reviewer's decision on the case's latest estimate (核损): approved or returned."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))  # approved | returned
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Categories asked for on a return, comma-separated (e.g. "invoice,damage").
    requested: Mapped[str] = mapped_column(Text, default="")
    # The estimate_submitted packet this decision is about.
    estimate_packet_id: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # On an approval: the amount approved (核定), at most the estimate; the gap is 核减.
    approved_amount: Mapped[float | None] = mapped_column(Float, nullable=True)


class CaseTiming(Base):
    """One started timing of a case as measured from the log (limits applied on read)."""

    __tablename__ = "case_timings"
    __table_args__ = (Index("ix_case_timings_dispatched_at", "dispatched_at"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    limit_key: Mapped[str] = mapped_column(String(40))
    # The team of the dispatch the timing belongs to: its limit may be the team's own.
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The dispatch the timing belongs to: what reports select by.
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    end_packet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flags: Mapped[str] = mapped_column(Text, default="")  # comma-separated


class CaseProgress(Base):
    """What the board and the review queue need of a case, kept by every recalculation."""

    __tablename__ = "case_progress"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    photos: Mapped[int] = mapped_column(Integer, default=0)
    documents: Mapped[int] = mapped_column(Integer, default=0)
    estimate_packet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    estimate_amount: Mapped[float | None] = mapped_column(Float, nullable=True)
    estimate_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    awaiting_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Approved: the front-end cycle is over, the case leaves the board.
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    # The branch rates of cases/rates.py; None while not decided or not counted.
    documents_on_site: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    first_scene: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Required on-site documents not photographed yet, comma-separated (the tablet's list).
    missing_documents: Mapped[str] = mapped_column(Text, default="", server_default="")


class SurveyorPosition(Base):
    """A surveyor's last known position (latest fix by event time, on any case)."""

    __tablename__ = "surveyor_positions"

    surveyor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    packet_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """Background work (a batch of cases to recalculate) for `kancha worker` or the
    server's own loop: `pending` until done in the same transaction as its effect.

    A worker claims it by writing its id and a lease; a worker that dies lets the lease
    run out and another takes the job (cases/jobs.py)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    # JSON: what to do (for `recalc`, the case ids).
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
