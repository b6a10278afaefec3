"""Which media a case has, what is suspicious about each, and who may read an object.

A photo finds its case through `packet_media`, written by the push whether the bytes came
first or not; listing joins it with the stored objects, so the link holds in either order.
The fraud signals are flagged, never acted on: taken far from the scene, long before the
report, the same bytes attached to another case, or a near-duplicate of another case's
photo (media.near_duplicates); so is EXIF found absurd at upload, missing, written by an
editor, or far from its packet's time and fix (media.fraud_flags names them all).
Media of held packets (an irregular report) are listed as soon as they are referenced,
flagged `held` until their packet joins the timeline (a dispatch to its sender within the
irregular window, cases/timeline.py): the same rule, so gallery and timeline agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.geo import distance_m
from cases.models import Case, Dispatch, Packet, User
from cases.timeline import DispatchFact, event_time, irregular_dispatch
from cases.values import DESK_ROLES
from media.fraud_flags import (
    FAR_FROM_SCENE,
    HELD,  # referenced only by held packets that have not joined the timeline
    NEAR_DUPLICATE,
    REUSED_ON_OTHER_CASE,
    TAKEN_BEFORE_REPORT,
    PacketFacts,
    PhotoChecks,
    metadata_flags,
)
from media.models import MediaObject, PacketMedia, ThumbnailJob
from media.near_duplicates import near
from media.phash import to_unsigned

__all__ = ["FAR_FROM_SCENE", "HELD", "REUSED_ON_OTHER_CASE", "TAKEN_BEFORE_REPORT"]
TAKEN = ("accepted", "held")  # statuses of packets whose media a case lists


@dataclass
class CaseMedia:
    media: MediaObject
    category: str | None
    thumbnails: bool
    flags: list[str] = field(default_factory=list)
    distance_m: float | None = None
    other_cases: list[str] = field(default_factory=list)
    # Other cases holding a near-duplicate: (case id, sha256 there, Hamming distance).
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # flag -> why, in words


@dataclass(frozen=True)
class NearDuplicate:
    case_id: str
    sha256: str
    distance: int


@dataclass
class CaseMediaList:
    items: list[CaseMedia]
    missing: list[str]  # referenced by the case's packets, bytes not received yet


async def case_media(
    session: AsyncSession,
    case: Case,
    *,
    max_distance_m: float,
    max_age_seconds: int,
    irregular_window: timedelta,
    checks: PhotoChecks | None = None,
) -> CaseMediaList:
    checks = checks or PhotoChecks(max_distance_m=max_distance_m, max_age_seconds=max_age_seconds)
    refs = (
        await session.execute(
            select(PacketMedia.sha256, PacketMedia.category)
            .add_columns(Packet.status, Packet.surveyor_id, Packet.received_at)
            .add_columns(
                Packet.kind,
                Packet.occurred_at,
                Packet.corrected_at,
                Packet.monotonic_at,
                Packet.fix_time,
                Packet.lat,
                Packet.lon,
            )
            .join(Packet, PacketMedia.packet_id == Packet.packet_id)
            .where(PacketMedia.case_id == case.id, Packet.status.in_(TAKEN))
            .order_by(Packet.received_at, Packet.seq, PacketMedia.sha256)
        )
    ).all()
    dispatches = await _dispatches(session, case.id) if any(r[2] == "held" for r in refs) else []
    categories: dict[str, str | None] = {}
    packets: dict[str, PacketFacts] = {}  # the first packet referencing each photo
    joined: set[str] = set()
    for ref in refs:
        sha256, category, status, surveyor_id, received_at = ref[:5]
        categories.setdefault(sha256, category)
        if sha256 not in packets:
            time, _source, _flags = event_time(ref)
            packets[sha256] = PacketFacts(ref.kind, time, ref.occurred_at, ref.lat, ref.lon)
        if status == "accepted" or (
            irregular_dispatch(dispatches, surveyor_id, received_at, irregular_window) is not None
        ):
            joined.add(sha256)
    if not categories:
        return CaseMediaList(items=[], missing=[])
    rows = (
        await session.execute(
            select(MediaObject, ThumbnailJob.status)
            .outerjoin(ThumbnailJob, ThumbnailJob.sha256 == MediaObject.sha256)
            .where(MediaObject.sha256.in_(list(categories)))
        )
    ).all()
    held = {media.sha256: (media, status) for media, status in rows}
    elsewhere: dict[str, list[str]] = {}
    for sha256, other in (
        await session.execute(
            select(PacketMedia.sha256, PacketMedia.case_id)
            .join(Packet, PacketMedia.packet_id == Packet.packet_id)
            .where(
                PacketMedia.sha256.in_(list(categories)),
                PacketMedia.case_id != case.id,
                Packet.status.in_(TAKEN),
            )
            .distinct()
            .order_by(PacketMedia.sha256, PacketMedia.case_id)
        )
    ).all():
        elsewhere.setdefault(sha256, []).append(other)
    items = []
    for sha256, category in categories.items():
        if sha256 not in held:
            continue
        media, status = held[sha256]
        item = CaseMedia(media=media, category=category, thumbnails=status == "done")
        _flag(item, case, checks.max_distance_m, checks.max_age_seconds, elsewhere.get(sha256, []))
        item.reasons = metadata_flags(media, packets.get(sha256), checks)
        item.flags.extend(item.reasons)
        await _near_duplicates(session, item, case.id, checks.phash_distance)
        if sha256 not in joined:
            item.flags.append(HELD)
        items.append(item)
    missing = [sha for sha in categories if sha not in held]
    return CaseMediaList(items=items, missing=missing)


async def _near_duplicates(
    session: AsyncSession, item: CaseMedia, case_id: str, distance: int
) -> None:
    """Flag the photo if one within `distance` bits of its pHash is on another case."""
    if item.media.phash is None:
        return
    value = to_unsigned(item.media.phash)
    matches = {
        m.sha256: m.distance for m in await near(session, item.media.sha256, value, distance)
    }
    if not matches:
        return
    rows = await session.execute(
        select(PacketMedia.sha256, PacketMedia.case_id)
        .join(Packet, PacketMedia.packet_id == Packet.packet_id)
        .where(
            PacketMedia.sha256.in_(list(matches)),
            PacketMedia.case_id != case_id,
            Packet.status.in_(TAKEN),
        )
        .distinct()
    )
    found = sorted(
        (NearDuplicate(other_case, sha256, matches[sha256]) for sha256, other_case in rows),
        key=lambda n: (n.distance, n.case_id, n.sha256),
    )
    if found:
        item.near_duplicates = found
        item.flags.append(NEAR_DUPLICATE)
        nearest = found[0]
        item.reasons[NEAR_DUPLICATE] = (
            f"its perceptual hash is {nearest.distance} of 64 bits from a photo on another case"
        )


async def _dispatches(session: AsyncSession, case_id: str) -> list[DispatchFact]:
    rows = await session.execute(
        select(Dispatch.surveyor_id, Dispatch.dispatched_at, Dispatch.purpose)
        .where(Dispatch.case_id == case_id)
        .order_by(Dispatch.id)
    )
    return [DispatchFact(s, at, purpose) for s, at, purpose in rows]


def _flag(
    item: CaseMedia, case: Case, max_distance_m: float, max_age_seconds: int, others: list[str]
) -> None:
    media = item.media
    item.flags.extend(flag for flag in media.exif_flags.split(",") if flag)
    if media.lat is not None and media.lon is not None:
        item.distance_m = round(distance_m(media.lat, media.lon, case.lat, case.lon), 1)
        if item.distance_m > max_distance_m:
            item.flags.append(FAR_FROM_SCENE)
    if media.taken_at is not None and media.taken_at < _before(case.reported_at, max_age_seconds):
        item.flags.append(TAKEN_BEFORE_REPORT)
    if others:
        item.other_cases = others
        item.flags.append(REUSED_ON_OTHER_CASE)


def _before(when: datetime, seconds: int) -> datetime:
    return when - timedelta(seconds=seconds)


async def may_read(session: AsyncSession, user: User, sha256: str) -> bool:
    """The desk reads everything; a surveyor what a case dispatched to them references."""
    if user.role in DESK_ROLES:
        return True
    if user.role != "surveyor":
        return False
    # Their own held packets count too: the case is theirs now, so those have joined
    # (or will never answer a dispatch of theirs, their own photos all the same).
    taken = or_(
        Packet.status == "accepted",
        and_(Packet.status == "held", Packet.surveyor_id == user.id),
    )
    query = select(
        exists()
        .where(PacketMedia.sha256 == sha256, PacketMedia.case_id == Case.id)
        .where(Case.surveyor_id == user.id)
        .where(PacketMedia.packet_id == Packet.packet_id, taken)
    )
    return bool(await session.scalar(query))
