"""The reviewer's desk: the queue oldest first with amount, surveyor and counts; a review page
with the estimate's items and the photos full size, navigable by keyboard; approve with the
approved amount, return with a reason and what is asked for; the next case opens after a
decision; refusals shown in words next to the form, never JSON, never a 5xx."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from cases.models import Review
from cases.users import create_user
from tests.desk.helpers import csrf_of_page, log_in, with_password
from tests.factories import T0, at, count, dispatched_case
from tests.media.helpers import eventually, job_done, upload
from tests.media.samples import pdf, photo, sha
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
    """(case no, amount, surveyor, photos, documents, authority) of each queue row."""
    rows = []
    for row in re.findall(
        r'<tr data-case-id="[^"]+" data-case-no="([^"]+)">(.*?)</tr>', html, re.S
    ):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
        ]
        rows.append((row[0], cells[2], cells[3], cells[5], cells[6], cells[7]))
    return rows


async def test_the_queue_lists_oldest_first_with_amount_surveyor_and_counts(
    client, tokens, clock, reviewer
):
    clock.set(T0)
    later = await estimated(client, tokens, clock, 12000, minute=90, media=[photo(seed=1)])
    older = await estimated(
        client, tokens, clock, 1500.5, minute=60, surveyor="sv2",
        media=[photo(seed=2), photo(seed=3), photo(seed=4)],
    )  # fmt: skip
    page = await client.get("/review")
    assert page.status_code == 200
    assert queue_rows(page.text) == [
        (older["case_no"], "1,500.50", "sv2", "2", "1", "within"),
        (later["case_no"], "12,000", "sv1", "1", "0", "within"),
    ]
    assert f'href="/review/{older["id"]}"' in page.text
    assert 'hx-trigger="every 10s"' in page.text  # the queue refreshes by itself
    assert "Your approval authority has no limit." in page.text


async def test_the_review_page_shows_the_estimate_items_and_the_photos_full_size(
    client, tokens, clock, db, reviewer
):
    clock.set(T0)
    first, second, licence = photo(seed=11), photo(seed=12), pdf()
    case = await estimated(client, tokens, clock, 12000, media=[first, licence, second])
    for data in (first, second):
        await eventually(job_done(db, sha(data)))  # the screen-sized thumbnail is made
    page = await client.get(f"/review/{case['id']}")
    assert page.status_code == 200
    html = page.text
    assert 'id="estimate-amount">12,000<' in html
    assert "前保险杠 front bumper" in html and "7,000" in html and "part_no: FB-22" in html
    assert "labour" in html and "5,000" in html
    assert f'src="/v1/media/{sha(first)}/thumbnail?size=screen"' in html
    assert f'id="photo-original" href="/v1/media/{sha(first)}"' in html
    assert "1 of 3" in html and 'data-key="ArrowRight"' in html
    assert 'data-key="ArrowLeft"' not in html  # nothing before the first
    # The arrow keys follow these links: the next one is the document, shown as a link only.
    nxt = await client.get(f"/review/{case['id']}?photo=2")
    assert "2 of 3" in nxt.text and "No preview of this file" in nxt.text
    assert f'id="photo-original" href="/v1/media/{sha(licence)}"' in nxt.text
    assert 'data-key="ArrowLeft"' in nxt.text and 'data-key="ArrowRight"' in nxt.text
    last = await client.get(f"/review/{case['id']}?photo=3")
    assert f'src="/v1/media/{sha(second)}/thumbnail?size=screen"' in last.text
    assert 'data-key="ArrowRight"' not in last.text
    # The photo the page links to opens with the desk session (the API only reads).
    shown = await client.get(f"/v1/media/{sha(second)}/thumbnail?size=screen")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert (await client.get(f"/v1/media/{sha(second)}")).content == second
    # The approve form is filled with the estimate; the return form asks for categories.
    assert re.search(r'id="approved_amount"[^>]*value="12000.0"', html)
    assert 'id="requested-invoice" name="requested" value="invoice"' in html
    assert '<label for="reason">' in html


async def test_approving_with_an_amount_stores_it_and_opens_the_next_case(
    client, tokens, clock, db, reviewer
):
    clock.set(T0)
    first = await estimated(client, tokens, clock, 12000, minute=60)
    second = await estimated(client, tokens, clock, 3000, minute=70, surveyor="sv2")
    csrf = await csrf_of_page(client, f"/review/{first['id']}")
    done = await client.post(
        f"/review/{first['id']}/approve",
        data={"csrf": csrf, "approved_amount": "10,500"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/review/{second['id']}?done=approved")
    assert await reviews(db) == [(first["id"], "approved", None, "", 10500)]
    following = await client.get(done.headers["location"])
    assert f"Case {first['case_no']} approved." in following.text
    assert f"Review {second['case_no']}" in following.text
    # Left empty, the approval is of the estimate as submitted; then the queue is empty.
    last = await client.post(
        f"/review/{second['id']}/approve",
        data={"csrf": csrf, "approved_amount": ""},
        follow_redirects=False,
    )
    assert last.headers["location"].startswith("/review?done=approved")
    assert (await reviews(db))[-1] == (second["id"], "approved", None, "", 3000)
    queue = await client.get(last.headers["location"])
    assert "No estimate awaits review." in queue.text
    assert f"Case {second['case_no']} approved." in queue.text


async def test_a_return_carries_its_reason_and_the_categories_asked_for(
    client, tokens, clock, db, reviewer
):
    clock.set(T0)
    case = await estimated(client, tokens, clock, 12000)
    csrf = await csrf_of_page(client, f"/review/{case['id']}")
    done = await client.post(
        f"/review/{case['id']}/return",
        data={"csrf": csrf, "reason": "发票缺失 no invoice", "requested": ["invoice", "damage"]},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/review?done=returned")
    assert await reviews(db) == [
        (case["id"], "returned", "发票缺失 no invoice", "invoice,damage", None)
    ]
    pulled = await client.get("/v1/sync/pull", headers=tokens["sv1"])
    (on_tablet,) = [c for c in pulled.json()["cases"] if c["id"] == case["id"]]
    assert on_tablet["review"]["requested"] == ["invoice", "damage"]
    page = await client.get(f"/review/{case['id']}")
    assert "does not await review" in page.text and 'id="approve-form"' not in page.text
    assert "发票缺失 no invoice" in page.text and "invoice, damage" in page.text


async def test_a_return_without_a_reason_is_refused_next_to_the_form(
    client, tokens, clock, db, reviewer
):
    clock.set(T0)
    case = await estimated(client, tokens, clock, 12000)
    csrf = await csrf_of_page(client, f"/review/{case['id']}")
    refused = await client.post(
        f"/review/{case['id']}/return",
        data={"csrf": csrf, "reason": "  ", "requested": "vin"},
        follow_redirects=False,
    )
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("text/html")
    assert 'id="review-refusal"' in refused.text and "a return must say why" in refused.text
    assert 'id="requested-vin" name="requested" value="vin" checked' in refused.text
    assert await count(db, Review) == 0
    above = await client.post(
        f"/review/{case['id']}/approve",
        data={"csrf": csrf, "approved_amount": "13000"},
        follow_redirects=False,
    )
    assert above.status_code == 400 and "never raises" in above.text
    assert re.search(r'id="approved_amount"[^>]*value="13000"', above.text)
    assert await count(db, Review) == 0


async def test_an_approval_above_the_reviewers_authority_is_refused_in_words(
    client, tokens, clock, db
):
    async with db.session() as session:
        await create_user(session, "junior", "reviewer", clock.now(), max_approve=50000)
        await session.commit()
    await with_password(db, "junior")
    await log_in(client, "junior")
    clock.set(T0)
    big = await estimated(client, tokens, clock, 62000, minute=60)
    small = await estimated(client, tokens, clock, 3000, minute=70, surveyor="sv2")
    queue = await client.get("/review")
    assert "Your approval authority: 50,000 yuan." in queue.text
    assert queue_rows(queue.text)[0] == (
        big["case_no"],
        "62,000",
        "sv1",
        "0",
        "0",
        "above: needs 62,000 yuan",
    )
    page = await client.get(f"/review/{big['id']}")
    assert 'id="above-authority"' in page.text and "yours is 50,000 yuan" in page.text
    csrf = await csrf_of_page(client, f"/review/{big['id']}")
    refused = await client.post(
        f"/review/{big['id']}/approve",
        data={"csrf": csrf, "approved_amount": "40000"},  # a cut does not bring it within
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "approval of 62,000 yuan exceeds your authority of 50,000 yuan" in refused.text
    assert "Not within your authority: nothing was recorded." in refused.text
    assert await count(db, Review) == 0
    # The case waits for a reviewer who holds it; the next case opened skips it.
    done = await client.post(
        f"/review/{small['id']}/approve", data={"csrf": csrf}, follow_redirects=False
    )
    assert done.headers["location"].startswith("/review?done=approved")
    assert queue_rows((await client.get("/review")).text)[0][0] == big["case_no"]
    # A return is allowed whatever the amount.
    back = await client.post(
        f"/review/{big['id']}/return", data={"csrf": csrf, "reason": "超权限 up"},
        follow_redirects=False,
    )  # fmt: skip
    assert back.status_code == 303


async def test_dispatchers_and_strangers_cannot_review(client, tokens, clock, db):
    clock.set(T0)
    case = await estimated(client, tokens, clock, 3000)
    stranger = await client.get("/review", follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login")
    await with_password(db, "disp")
    await log_in(client, "disp")
    refused = await client.get("/review")
    assert refused.status_code == 403 and "Your role may not open this page." in refused.text
    assert (await client.get(f"/review/{case['id']}")).status_code == 403
    csrf = await csrf_of_page(client, "/board")
    post = await client.post(f"/review/{case['id']}/approve", data={"csrf": csrf})
    assert post.status_code == 403
    assert await count(db, Review) == 0


async def test_a_decision_needs_the_sessions_csrf_token(client, tokens, clock, db, reviewer):
    clock.set(T0)
    case = await estimated(client, tokens, clock, 3000)
    refused = await client.post(f"/review/{case['id']}/approve", data={}, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert await count(db, Review) == 0


async def test_bad_input_is_a_page_never_json_or_a_5xx(client, tokens, clock, db, reviewer):
    clock.set(T0)
    case = await estimated(client, tokens, clock, 3000)
    csrf = await csrf_of_page(client, f"/review/{case['id']}")
    for path, form, status, words in [
        ("approve", {"approved_amount": "abc"}, 400, "must be a number of yuan"),
        ("approve", {"approved_amount": "nan"}, 400, "must be a number of yuan"),
        ("approve", {"approved_amount": "1e999"}, 400, "must be a number of yuan"),
        ("approve", {"approved_amount": "-5"}, 400, "approved_amount"),
        ("return", {"reason": "a\x00b"}, 400, "reason"),
        ("return", {"reason": "x" * 2001}, 400, "length"),
        ("return", {"reason": "why", "requested": "bogus"}, 400, "requested"),
    ]:
        response = await client.post(
            f"/review/{case['id']}/{path}", data={"csrf": csrf, **form}, follow_redirects=False
        )
        assert response.status_code == status, (form, response.text)
        assert response.headers["content-type"].startswith("text/html"), form
        assert 'id="review-refusal"' in response.text and words in response.text, form
    assert await count(db, Review) == 0
    unknown = uuid.uuid4()
    for response in (
        await client.get(f"/review/{unknown}"),
        await client.post(f"/review/{unknown}/approve", data={"csrf": csrf}),
    ):
        assert response.status_code == 404 and response.headers["content-type"].startswith(
            "text/html"
        )
    assert (await client.get("/review/not-a-uuid")).status_code == 404
    for query in ("?page=-3", "?page=x", "?page=99999999999"):
        assert (await client.get(f"/review{query}")).status_code == 200
    assert (await client.get(f"/review/{case['id']}?photo=x")).status_code == 200
    # Decided already (another reviewer, another tab): 409 in words.
    await client.post(f"/review/{case['id']}/approve", data={"csrf": csrf})
    again = await client.post(f"/review/{case['id']}/approve", data={"csrf": csrf})
    assert again.status_code == 409 and "no estimate awaits review" in again.text


async def test_the_review_pages_speak_chinese_when_asked(client, tokens, clock, reviewer):
    clock.set(T0)
    case = await estimated(client, tokens, clock, 62000)
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    queue = await client.get("/review", headers=zh)
    assert "核损队列" in queue.text and "市区" in queue.text
    page = await client.get(f"/review/{case['id']}", headers=zh)
    assert "核定金额（元）" in page.text and "退回原因" in page.text and "维修发票" in page.text
