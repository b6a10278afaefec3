"""The reviewer's desk: the queue oldest first with amount, surveyor and counts; a review page
with the estimate's items and the photos full size, navigable by keyboard; approve with the
approved amount, return with a reason and what is asked for; the next case opens after a
decision; the pages in Chinese. Refusals: tests/desk/test_review_refusals.py."""

from __future__ import annotations

import re

from tests.desk.helpers import csrf_of_page
from tests.desk.reviewing import estimated, queue_rows, reviewer, reviews
from tests.factories import at, dispatched_case, new_id, packet, push, push_body
from tests.media.helpers import eventually, job_done
from tests.media.samples import pdf, photo, sha

__all__ = ["reviewer"]  # the fixture


async def test_the_queue_lists_oldest_first_with_amount_surveyor_and_counts(
    client, tokens, clock, reviewer
):
    later = await estimated(client, tokens, clock, 12000, minute=90, media=[photo(seed=1)])
    older = await estimated(
        client, tokens, clock, 1500.5, minute=60, surveyor="sv2",
        media=[photo(seed=2), photo(seed=3), photo(seed=4)],
    )  # fmt: skip
    clock.set(at(100))
    page = await client.get("/review")
    assert page.status_code == 200
    assert queue_rows(page.text) == [
        (older["case_no"], "40 min 00 s", "1,500.50", "sv2", "2", "1", "within"),
        (later["case_no"], "10 min 00 s", "12,000", "sv1", "1", "0", "within"),
    ]
    assert f'href="/review/{older["id"]}"' in page.text
    assert 'hx-trigger="every 10s"' in page.text  # the queue refreshes by itself
    assert "Your approval authority has no limit." in page.text


async def test_the_review_page_shows_the_estimate_items_and_the_photos_full_size(
    client, tokens, clock, db, reviewer
):
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
    assert re.search(r'id="approved_amount"[^>]*value="12000"', html)
    assert 'id="requested-invoice" name="requested" value="invoice"' in html
    assert '<label for="reason">' in html
    # The required documents not photographed yet are said, and marked where a return asks.
    missing = re.search(r'id="missing-documents"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "vehicle licence" in missing and "driving licence" not in missing
    assert 'requested-vehicle_licence">vehicle licence <span class="missing">' in html
    assert 'requested-driving_licence">driving licence</label>' in html


async def test_approving_with_an_amount_stores_it_and_opens_the_next_case(
    client, tokens, clock, db, reviewer
):
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


async def test_the_review_pages_speak_chinese_when_asked(client, tokens, clock, reviewer):
    case = await estimated(client, tokens, clock, 62000)
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    queue = await client.get("/review", headers=zh)
    assert "核损队列" in queue.text and "市区" in queue.text
    page = await client.get(f"/review/{case['id']}", headers=zh)
    assert "核定金额（元）" in page.text and "退回原因" in page.text and "维修发票" in page.text


async def test_items_are_read_whatever_their_shape_and_format(client, tokens, clock, reviewer):
    case = await dispatched_case(client, tokens)
    items = ["轮胎 tyre", {"description": "paint", "price": 800, "qty": 2}, {"yuan": True}, 5]
    sent = packet(case["id"], 1, "estimate_submitted", data={"amount": 900, "items": items})
    response = await push(client, tokens["sv1"], push_body(new_id(), [sent]), msgpack=True)
    assert response.json()["results"][0]["status"] == "accepted", response.text
    html = (await client.get(f"/review/{case['id']}")).text
    rows = re.findall(r"<tr><td>(.*?)</td><td[^>]*>(.*?)</td><td>(.*?)</td></tr>", html)
    assert rows == [
        ("轮胎 tyre", "", ""),
        ("paint", "800", "qty: 2"),
        ("", "", "yuan: true"),
        ("5", "", ""),
    ]
