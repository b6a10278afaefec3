"""CaseService without HTTP: the case domain a request sees, over a real database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select

from cases.clock import FakeClock
from cases.dispatch import CaseNotFound
from cases.intake import IntakeRules
from cases.limits import Limits
from cases.models import User
from cases.refusal import Conflict, Forbidden, Refusal
from cases.service import CaseService
from server.db import Database
from tests.factories import T0, at


@asynccontextmanager
async def service(db: Database, clock: FakeClock, name: str) -> AsyncIterator[CaseService]:
    """`name`'s CaseService over one session, committed at the end like a request's.

    One at a time: on SQLite, writing sessions queue for a single connection."""
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.name == name))
        assert user is not None
        yield CaseService(session, clock, Limits(), user, IntakeRules.of_seconds(48 * 3600, 86400))
        await session.commit()


async def opened(cases: CaseService, case_no: str = "RPT-1") -> str:
    case, _ = await cases.open(
        case_no=case_no,
        reported_at=T0,
        lat=31.2304,
        lon=121.4737,
        address="人民广场",
        zone="city",
        plate=None,
        simple_procedure=False,
    )
    return case.id


async def test_open_dispatch_read(db, clock, tokens):
    async with service(db, clock, "disp") as desk:
        case_id = await opened(desk, " RPT-1 ")
        again, created = await desk.open(
            case_no="RPT-1",
            reported_at=T0,
            lat=0,
            lon=0,
            address="",
            zone="city",
            plate=None,
            simple_procedure=False,
        )
        assert (again.id, created) == (case_id, False)
        clock.set(at(1))
        detail = await desk.dispatch(case_id, "sv1")
    assert detail.case.status == "dispatched" and detail.case.surveyor.name == "sv1"
    assert detail.current_dispatch == 0 and detail.events == []
    accept, limit_key = next(t for t in detail.timings if t[0].name == "accept")
    assert (accept.name, accept.state, accept.start) == ("accept", "running", at(1))
    assert limit_key == "accept"

    clock.set(at(2))
    async with service(db, clock, "sv1") as surveyor:
        read = await surveyor.read(case_id)
    assert [d.surveyor.name for d in read.case.dispatches] == ["sv1"]
    judged = {t.name: t for t, _ in read.timings}
    assert judged["accept"].seconds == 60 and read.review is None
    assert judged["report_to_arrival"].seconds == 120  # from the report at at(0)


async def test_refusals_name_the_field_and_status(db, clock, tokens):
    missing = str(uuid.uuid4())
    async with service(db, clock, "disp") as desk:
        case_id = await opened(desk)
        with pytest.raises(Refusal) as refused:
            await desk.dispatch(case_id, "nobody")
        assert (refused.value.field, refused.value.status) == ("surveyor", 400)
        assert refused.value.detail == "surveyor: no active surveyor named 'nobody'"
        with pytest.raises(Refusal) as refused:
            await desk.dispatch(case_id, "rev")  # a user, but not a surveyor
        assert refused.value.field == "surveyor"
        with pytest.raises(CaseNotFound) as not_found:
            await desk.read(missing)
        assert (not_found.value.status, not_found.value.detail) == (
            404,
            f"no case with id {missing!r}",
        )
        await desk.dispatch(case_id, "sv1")

    async with service(db, clock, "sv2") as other:
        with pytest.raises(Forbidden):
            await other.read(case_id)

    async with service(db, clock, "rev") as reviewer:
        with pytest.raises(Conflict) as conflict:
            await reviewer.review(case_id, decision="approved", reason=None, requested=[])
        assert conflict.value.detail == "case: no estimate awaits review"
        with pytest.raises(Refusal) as refused:
            await reviewer.review(case_id, decision="returned", reason=" ", requested=[])
        assert (refused.value.field, refused.value.status) == ("reason", 400)
