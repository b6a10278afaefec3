"""Which media a case has, what is suspicious about each, and who may read an object.

A photo finds its case through `packet_media`, written by the push whether the bytes came
first or not; listing joins it with the stored objects, so the link holds in either order.
The fraud signals are flagged, never acted on: taken far from the scene, long before the
report, or the same bytes attached to another case; so is EXIF found absurd at upload.
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
from cases.timeline import DispatchFact, irregular_dispatch
from cases.values import DESK_ROLES
from media.models import MediaObject, PacketMedia, ThumbnailJob

FAR_FROM_SCENE = "far_from_scene"
TAKEN_BEFORE_REPORT = "taken_before_report"
REUSED_ON_OTHER_CASE = "reused_on_other_case"
HELD = "held"  # referenced only by held packets that have not joined the timeline
TAKEN = ("accepted", "held")  # statuses of packets whose media a case lists


@dataclass
class CaseMedia:
    media: MediaObject
    category: str | None
    thumbnails: bool
    flags: list[str] = field(default_factory=list)
    distance_m: float | None = None
    other_cases: list[str] = field(default_factory=list)


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
) -> CaseMediaList:
    refs = (
        await session.execute(
            select(PacketMedia.sha256, PacketMedia.category)
            .add_columns(Packet.status, Packet.surveyor_id, Packet.received_at)
            .join(Packet, PacketMedia.packet_id == Packet.packet_id)
            .where(PacketMedia.case_id == case.id, Packet.status.in_(TAKEN))
            .order_by(Packet.received_at, Packet.seq, PacketMedia.sha256)
        )
    ).all()
    dispatches = await _dispatches(session, case.id) if any(r[2] == "held" for r in refs) else []
    categories: dict[str, str | None] = {}
    joined: set[str] = set()
    for sha256, category, status, surveyor_id, received_at in refs:
        categories.setdefault(sha256, category)
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
        _flag(item, case, max_distance_m, max_age_seconds, elsewhere.get(sha256, []))
        if sha256 not in joined:
            item.flags.append(HELD)
        items.append(item)
    missing = [sha for sha in categories if sha not in held]
    return CaseMediaList(items=items, missing=missing)


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
