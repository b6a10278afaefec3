"""Helpers of the review desk tests: a case whose estimate awaits review (with its items,
photos and documents), a reviewer logged in, what was stored, the queue's rows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from cases.models import Review
from tests.desk.helpers import log_in, with_password
from tests.factories import T0, at, dispatched_case
from tests.media.helpers import upload
from tests.media.samples import sha
from tests.tablets import Tablet

ITEMS = [
    {"name": "前保险杠 front bumper", "yuan": 7000, "part_no": "FB-22"},
    {"item": "labour", "amount": 5000},
]


async def estimated(client, tokens, clock, amount, *, minute=60, surveyor="sv1", media=()):
    """A case of `surveyor` whose estimate of `amount` yuan (submitted at `minute`) awaits
    review, with a damage photo and a licence document per item of `media` (bytes).
    Dispatched at T0, so the queue's order is the estimates' order."""
    clock.set(T0)
    case = await dispatched_case(client, tokens, surveyor=surveyor)
    tablet = Tablet(tokens[surveyor])
    tablet.record(case["id"], "arrived", at(minute - 40), gps=True)
    for n, data in enumerate(media):
        kind, category = ("photo", "damage") if n % 2 == 0 else ("document", "driving_licence")
        await upload(client, tokens[surveyor], data)
        sent = tablet.record(case["id"], kind, at(minute - 30 + n), category=category)
        sent["media"] = [sha(data)]
    tablet.record(case["id"], "survey_completed", at(minute - 10))
    tablet.record(case["id"], "estimate_submitted", at(minute), amount=amount, items=ITEMS)
    clock.set(at(minute + 1))
    await tablet.flush(client, clock)
    return case


@pytest.fixture
async def reviewer(client, tokens, db):
    """`rev` (no approval limit) logged in at the desk."""
    await with_password(db, "rev")
    assert (await log_in(client, "rev")).status_code == 303
    return "rev"


async def reviews(db):
    async with db.session(write=False) as session:
        rows = await session.scalars(select(Review).order_by(Review.id))
        return [(r.case_id, r.decision, r.reason, r.requested, r.approved_amount) for r in rows]


def queue_rows(html: str) -> list[tuple[str, ...]]:
    """(case no, waiting, amount, surveyor, photos, documents, authority) of each queue row."""
    rows = []
    for row in re.findall(
        r'<tr data-case-id="[^"]+" data-case-no="([^"]+)">(.*?)</tr>', html, re.S
    ):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
        ]
        rows.append((row[0], cells[2], cells[3], cells[4], cells[6], cells[7], cells[8]))
    return rows
