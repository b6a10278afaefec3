"""Refusals on the reviewer's desk are pages in words next to the form, never JSON, never a
5xx, and store nothing: a return without a reason, an approval above the estimate or above
the reviewer's authority (超权限, 403 naming the limit), bad input, no CSRF token, another
role, a case decided already."""

from __future__ import annotations

import re
import uuid

from cases.models import Review
from cases.users import create_user
from tests.desk.helpers import csrf_of_page, log_in, with_password
from tests.desk.reviewing import estimated, queue_rows, reviewer
from tests.factories import count

__all__ = ["reviewer"]  # the fixture


async def test_a_return_without_a_reason_is_refused_next_to_the_form(
    client, tokens, clock, db, reviewer
):
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
    # Shown at the form's address, its links are the case page's: the language switch
    # comes back to the case, and so does the address opened again.
    assert f'href="/lang/zh?next=/review/{case["id"]}"' in refused.text
    again = await client.get(f"/review/{case['id']}/return", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/review/{case['id']}"
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
    big = await estimated(client, tokens, clock, 62000, minute=60)
    small = await estimated(client, tokens, clock, 3000, minute=70, surveyor="sv2")
    queue = await client.get("/review")
    assert "Your approval authority: 50,000 yuan." in queue.text
    assert queue_rows(queue.text)[0][0] == big["case_no"]
    assert queue_rows(queue.text)[0][2:] == (
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
    case = await estimated(client, tokens, clock, 3000)
    refused = await client.post(f"/review/{case['id']}/approve", data={}, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert await count(db, Review) == 0


async def test_bad_input_is_a_page_never_json_or_a_5xx(client, tokens, clock, db, reviewer):
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
