"""An OpenRosa submission settled exactly once, through the same push path as a JSON push.

The instanceID is the submission's identity. Its first arrival claims a row holding the
XML verbatim and a range of the device's seqs; a re-send with the same XML maps to the
same packets (ids from the instanceID, seqs from that range) and so settles as duplicates;
other XML under the same instanceID is refused (409). A submission Collect splits
(`*isIncomplete*`) is kept part by part (attachments stored as they come) and settled only
by the last part, once every file the XML names has arrived. Everything that can be
refused is checked before anything is written: a refused request leaves no row behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case
from cases.refusal import Conflict, Refusal
from cases.sql import insert
from sync.models import OdkAttachment, OdkDeviceSeq, OdkSubmission
from sync.openrosa.form import Form
from sync.openrosa.instance import (
    Instance,
    device_key,
    incoming_packets,
    parse_instance,
    planned_packets,
)
from sync.service import SyncService


@dataclass(frozen=True)
class Part:
    """One attachment of a POST: the name it was sent under and a reader of its bytes."""

    filename: str
    chunks: Callable[[], AsyncIterable[bytes]]


class Staged(Protocol):
    sha256: str


class MediaIntake(Protocol):
    """What takes an attachment in (media/service.py MediaService): the same spooling,
    hashing, checks (type, EXIF, bombs), store and thumbnail job as a PUT."""

    async def stage_unnamed(self, chunks: AsyncIterable[bytes]) -> Staged: ...

    async def record_staged(self, session: AsyncSession, staged: Any) -> object: ...


@dataclass(frozen=True)
class Answer:
    """What the submission came to: `complete` once settled; `held` names packets kept
    until the case is dispatched to the sender; `again` for a re-send of a settled one."""

    instance_id: str
    complete: bool
    again: bool = False
    held: bool = False
    missing: tuple[str, ...] = ()


def xml_digest(xml: bytes) -> str:
    return hashlib.sha256(xml).hexdigest()


async def submit(
    sync: SyncService,
    media: MediaIntake,
    form: Form,
    xml: bytes,
    parts: list[Part],
    *,
    incomplete: bool,
    sent_at: datetime | None,
) -> Answer:
    """Take one POST of a submission (all of it, or one part of a split one)."""
    session, surveyor, now = sync.session, sync.surveyor, sync.clock.now()
    instance = parse_instance(xml, form)
    for part in parts:
        if part.filename not in instance.filenames:
            raise Refusal(
                part.filename or "attachment",
                "this file is not named by the submission's XML",
            )
    digest = xml_digest(xml)
    # Read apart from the request's transaction: a re-send is answered without one, and on
    # SQLite the one writer is not held while the photos stream, hash and get checked.
    async with sync.sessions.session(write=False) as reader:
        existing = await _existing(reader, instance, digest, surveyor.id)
        if existing is not None and existing.completed_at is not None:
            return Answer(instance.instance_id, complete=True, again=True)
        if await reader.get(Case, instance.case_id) is None:
            raise Refusal("case", f"no case {instance.case_id!r}: get the blank form again")

    staged = [(part.filename, await media.stage_unnamed(part.chunks())) for part in parts]
    device_id = device_key(surveyor.id, instance.deviceid)
    planned = planned_packets(instance)
    # The claim (seqs), the photos' rows and the parts commit in a writer of their own
    # before the packets are settled (by the group commit, in its own transactions): a
    # crash after it leaves the instanceID holding its seqs, so a re-send is the same
    # packets. Everything that can be refused was checked before this point.
    async with sync.sessions.session(write=True) as writer:
        for _, item in staged:
            await media.record_staged(writer, item)
        row = await _claim(
            writer, instance, xml, digest, (surveyor.id, device_id), len(planned), now
        )
        if row.completed_at is not None:  # a racing identical POST settled it meanwhile
            return Answer(instance.instance_id, complete=True, again=True)
        if staged:
            await writer.execute(
                insert(writer, OdkAttachment).on_conflict_do_nothing(),
                [
                    dict(instance_id=row.instance_id, filename=n, sha256=s.sha256, received_at=now)
                    for n, s in staged
                ],
            )
        held = dict(
            (await writer.execute(
                select(OdkAttachment.filename, OdkAttachment.sha256).where(
                    OdkAttachment.instance_id == row.instance_id
                )
            )).all()
        )  # fmt: skip
        missing = tuple(sorted(instance.filenames - held.keys()))
        if missing and not incomplete:
            raise Refusal(
                "attachments",
                f"the last part came, but {', '.join(missing)} never did: "
                "send the submission again",
            )
        first_seq, row_device = row.first_seq, row.device_id
        await writer.commit()
    if incomplete:
        return Answer(instance.instance_id, complete=False, missing=missing)
    packets = incoming_packets(planned, first_seq, held)
    outcome = await sync.push(row_device, sent_at or instance.end, packets)
    refused = [r for r in outcome.results if r.status == "rejected"]
    if refused:
        reasons = "; ".join(sorted({f"{r.packet_id}: {r.reason}" for r in refused}))
        raise Conflict("submission", f"not taken: {reasons}")
    await session.execute(  # the request's: committed before Collect hears 201
        update(OdkSubmission)
        .where(OdkSubmission.instance_id == instance.instance_id)
        .where(OdkSubmission.completed_at.is_(None))
        .values(completed_at=now)
    )
    return Answer(
        instance.instance_id,
        complete=True,
        held=any(r.status == "held" for r in outcome.results),
    )


async def _existing(
    session: AsyncSession, instance: Instance, digest: str, surveyor_id: int
) -> OdkSubmission | None:
    """The submission already held under this instanceID, if the same; else 409."""
    row = (
        await session.execute(
            select(OdkSubmission)
            .where(OdkSubmission.instance_id == instance.instance_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.surveyor_id != surveyor_id:
        raise Conflict("instanceID", "this instanceID was submitted by another surveyor")
    if row.digest != digest:
        raise Conflict(
            "instanceID",
            f"{instance.instance_id} was already submitted with other content: "
            "what was received first stays",
        )
    return row


async def _claim(
    session: AsyncSession,
    instance: Instance,
    xml: bytes,
    digest: str,
    sender: tuple[int, str],
    count: int,
    now: datetime,
) -> OdkSubmission:
    """Insert the submission with a fresh seq range of its device, or read the one held
    (a part before, or a racing POST that got in first: this one waits for it)."""
    surveyor_id, device_id = sender
    claimed = await session.scalar(
        insert(session, OdkSubmission)
        .values(
            instance_id=instance.instance_id,
            form_id=instance.form_id,
            form_version=instance.version,
            surveyor_id=surveyor_id,
            device_id=device_id,
            digest=digest,
            xml=xml,
            first_seq=0,
            seq_count=count,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["instance_id"])
        .returning(OdkSubmission.instance_id)
    )
    if claimed is not None:
        await session.execute(
            insert(session, OdkDeviceSeq)
            .values(device_id=device_id, last_seq=0)
            .on_conflict_do_nothing(index_elements=["device_id"])
        )
        last = await session.scalar(
            update(OdkDeviceSeq)
            .where(OdkDeviceSeq.device_id == device_id)
            .values(last_seq=OdkDeviceSeq.last_seq + count)
            .returning(OdkDeviceSeq.last_seq)
        )
        assert last is not None
        await session.execute(
            update(OdkSubmission)
            .where(OdkSubmission.instance_id == instance.instance_id)
            .values(first_seq=last - count + 1)
        )
    row = await _existing(session, instance, digest, surveyor_id)
    assert row is not None
    return row
