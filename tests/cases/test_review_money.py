"""Reviews record money (核损): an approval carries the amount approved, at most the estimate
(the gap is the reduction, 核减); a reviewer approves within their authority (max_approve),
above it the case waits for one who holds it (超权限); the report sums the reductions."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from cases.models import Review
from cases.reductions import MONEY_COLUMNS
from cases.users import create_user
from tests.factories import T0, at, bearer, count, dispatched_case
from tests.tablets import Tablet, case_read, review


async def estimated(client, tokens, clock, amount, surveyor="sv1"):
    """A case of `surveyor` whose estimate of `amount` yuan awaits review."""
    clock.set(T0)
    case = await dispatched_case(client, tokens, surveyor=surveyor)
    tablet = Tablet(tokens[surveyor])
    tablet.record(case["id"], "arrived", at(20), gps=True)
    tablet.record(case["id"], "survey_completed", at(40))
    tablet.record(case["id"], "estimate_submitted", at(60), amount=amount)
    clock.set(at(61))
    await tablet.flush(client, clock)
    return case


@pytest.fixture
async def junior(db, clock):
    """A reviewer who may approve up to 50,000 yuan."""
    async with db.session() as session:
        token = await create_user(session, "junior", "reviewer", clock.now(), max_approve=50000)
        await session.commit()
    return bearer(token)


async def queue(client, headers):
    response = await client.get("/v1/review/queue", headers=headers)
    assert response.status_code == 200, response.text
    return {c["case_id"]: c for c in response.json()["cases"]}


async def stored_amounts(db):
    async with db.session(write=False) as session:
        rows = await session.scalars(select(Review).order_by(Review.id))
        return [(r.decision, r.approved_amount) for r in rows]


async def test_the_approved_amount_is_stored_and_shown(client, tokens, clock, db):
    case = await estimated(client, tokens, clock, 12000)
    response = await review(client, tokens, case["id"], decision="approved", approved_amount=10500)
    assert response.status_code == 200, response.text
    assert response.json()["review"]["approved_amount"] == 10500
    assert await stored_amounts(db) == [("approved", 10500)]
    read = await case_read(client, case["id"], tokens["disp"])
    assert (read["review"]["decision"], read["review"]["approved_amount"]) == ("approved", 10500)
    pulled = await client.get("/v1/sync/pull", headers=tokens["sv1"])
    (on_tablet,) = [c for c in pulled.json()["cases"] if c["id"] == case["id"]]
    assert on_tablet["review"]["approved_amount"] == 10500


async def test_an_approval_without_an_amount_approves_the_estimate(client, tokens, clock, db):
    case = await estimated(client, tokens, clock, 1500.5)
    response = await review(client, tokens, case["id"], decision="approved")
    assert response.status_code == 200, response.text
    assert response.json()["review"]["approved_amount"] == 1500.5
    assert await stored_amounts(db) == [("approved", 1500.5)]


async def test_a_return_carries_no_amount(client, tokens, clock, db):
    case = await estimated(client, tokens, clock, 3000)
    response = await review(client, tokens, case["id"], decision="returned", reason="no invoice")
    assert response.status_code == 200, response.text
    assert response.json()["review"]["approved_amount"] is None
    assert await stored_amounts(db) == [("returned", None)]


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "returned", "reason": "blurred", "approved_amount": 100},
        {"decision": "approved", "approved_amount": 3000.01},  # above the estimate
        {"decision": "approved", "approved_amount": -1},
        {"decision": "approved", "approved_amount": "2000"},
        b'{"decision": "approved", "approved_amount": 1e400}',  # +Infinity once decoded
        b'{"decision": "approved", "approved_amount": -1e400}',
    ],
)
async def test_a_bad_amount_is_400_naming_it(client, tokens, clock, db, body):
    case = await estimated(client, tokens, clock, 3000)
    path, headers = f"/v1/cases/{case['id']}/review", tokens["rev"]
    if isinstance(body, bytes):
        headers = {**headers, "Content-Type": "application/json"}
        response = await client.post(path, content=body, headers=headers)
    else:
        response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("approved_amount"), response.text
    assert await count(db, Review) == 0
    assert case["id"] in await queue(client, tokens["rev"])


async def test_above_the_authority_is_403_naming_it_and_waits_for_one_who_holds_it(
    client, tokens, clock, db, junior
):
    case = await estimated(client, tokens, clock, 62000)
    refused = await review(client, {"rev": junior}, case["id"], decision="approved")
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == (
        "approved_amount: approval of 62,000 yuan exceeds your authority of 50,000 yuan"
        " (max_approve)"
    )
    # Authority follows the estimate under review: a cut does not bring it within.
    cut = await review(
        client, {"rev": junior}, case["id"], decision="approved", approved_amount=48000
    )
    assert cut.status_code == 403 and "62,000 yuan" in cut.json()["detail"]
    assert await count(db, Review) == 0  # nothing stored
    assert (await case_read(client, case["id"], tokens["disp"]))["review"] is None
    assert case["id"] in await queue(client, junior)  # it waits

    approved = await review(client, tokens, case["id"], decision="approved")  # rev: no limit
    assert approved.status_code == 200, approved.text
    assert await stored_amounts(db) == [("approved", 62000)]
    assert case["id"] not in await queue(client, junior)


async def test_within_the_authority_and_any_return_are_allowed(client, tokens, clock, db, junior):
    small = await estimated(client, tokens, clock, 50000)
    large = await estimated(client, tokens, clock, 80000)
    # 50,000 itself is within an authority of 50,000; a cut within it is the junior's to make.
    assert (await review(client, {"rev": junior}, small["id"], decision="approved")).is_success
    cut = await review(
        client, {"rev": junior}, large["id"], decision="approved", approved_amount=48000
    )
    assert cut.status_code == 403, cut.text
    cut = await review(client, tokens, large["id"], decision="approved", approved_amount=48000)
    assert cut.status_code == 200, cut.text
    again = await estimated(client, tokens, clock, 90000)
    returned = await review(
        client, {"rev": junior}, again["id"], decision="returned", reason="photos missing"
    )
    assert returned.status_code == 200, returned.text
    stored = await stored_amounts(db)
    assert stored == [("approved", 50000), ("approved", 48000), ("returned", None)]


async def test_the_queue_tells_each_reviewer_what_is_above_their_authority(
    client, tokens, clock, junior
):
    small = await estimated(client, tokens, clock, 1500)
    large = await estimated(client, tokens, clock, 62000)
    for_junior = await queue(client, junior)
    assert {k: (c["authority_required"], c["within_authority"]) for k, c in for_junior.items()} == {
        small["id"]: (1500, True),
        large["id"]: (62000, False),
    }
    for_rev = await queue(client, tokens["rev"])
    assert [c["within_authority"] for c in for_rev.values()] == [True, True]


async def test_the_report_gives_the_reduction_per_surveyor(client, tokens, clock):
    one = await estimated(client, tokens, clock, 12000, surveyor="sv1")
    two = await estimated(client, tokens, clock, 1500, surveyor="sv1")
    three = await estimated(client, tokens, clock, 3000, surveyor="sv2")
    returned = await estimated(client, tokens, clock, 5000, surveyor="sv2")
    await estimated(client, tokens, clock, 7000, surveyor="sv2")  # awaits review: not counted
    for case, amount in ((one, 10000), (two, None), (three, 2400)):
        body = {"decision": "approved"} | ({} if amount is None else {"approved_amount": amount})
        assert (await review(client, tokens, case["id"], **body)).status_code == 200
    back = {"decision": "returned", "reason": "no invoice"}
    assert (await review(client, tokens, returned["id"], **back)).status_code == 200

    query = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "group_by": "surveyor"}
    response = await client.get("/v1/reports/sla", params=query, headers=tokens["disp"])
    assert response.status_code == 200, response.text
    money = {g["group"]: tuple(g[c] for c in MONEY_COLUMNS) for g in response.json()["groups"]}
    assert money == {
        "sv1": (2, 13500, 11500, 2000, 0.1481),
        "sv2": (1, 3000, 2400, 600, 0.2),
    }
    by_zone = await client.get(
        "/v1/reports/sla", params=query | {"group_by": "zone"}, headers=tokens["disp"]
    )
    (city,) = by_zone.json()["groups"]
    assert (city["approved_cases"], city["reduction_total"]) == (3, 2600)

    as_csv = await client.get(
        "/v1/reports/sla", params=query, headers={**tokens["disp"], "Accept": "text/csv"}
    )
    header, *rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert header[:2] == ["surveyor", "cases"]  # the existing columns keep their places
    # The money columns, then (appended after them) the flag columns of media/fraud.py.
    money_at = slice(-len(MONEY_COLUMNS) - 2, -2)
    assert header[money_at] == list(MONEY_COLUMNS)
    assert header[-2:] == ["flagged_cases", "flags"]
    tail = {row[0]: row[money_at] for row in rows}
    assert tail == {
        "sv1": ["2", "13500.0", "11500.0", "2000.0", "0.1481"],
        "sv2": ["1", "3000.0", "2400.0", "600.0", "0.2"],
    }


async def test_a_group_with_nothing_approved_has_no_reduction_share(client, tokens, clock):
    await estimated(client, tokens, clock, 4000)
    query = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z"}
    response = await client.get("/v1/reports/sla", params=query, headers=tokens["disp"])
    (sv1,) = response.json()["groups"]
    assert tuple(sv1[c] for c in MONEY_COLUMNS) == (0, 0, 0, 0, None)
    as_csv = await client.get(
        "/v1/reports/sla", params=query, headers={**tokens["disp"], "Accept": "text/csv"}
    )
    (row,) = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert row["reduction_share"] == "" and row["approved_cases"] == "0"
