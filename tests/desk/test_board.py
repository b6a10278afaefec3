"""The dispatcher's board in the browser: open cases most urgent first with their running
timings (red once overdue), filters kept in the URL, the live fragment, the surveyors' load,
and the acts (open, dispatch, re-dispatch, delegate, close) with refusals shown in words."""

from __future__ import annotations

import re

from cases.users import set_team
from tests.desk.helpers import csrf_of_page, log_in, with_password
from tests.factories import dispatched_case, new_id, open_case, packet, push, push_body


async def _desk(client, db, name="disp"):
    await with_password(db, name)
    response = await log_in(client, name)
    assert response.status_code == 303, response.text
    return await csrf_of_page(client)


def _row(html: str, case_id: str) -> str:
    found = re.search(rf'<tr id="row-{case_id}".*?</tr>', html, re.S)
    assert found, f"no row for {case_id}"
    return found.group(0)


async def test_the_board_lists_open_cases_most_urgent_first(client, tokens, db, clock):
    first = await dispatched_case(client, tokens, surveyor="sv1")
    clock.advance(minutes=2)
    second = await dispatched_case(client, tokens, surveyor="sv2")
    waiting = await open_case(client, tokens["disp"])
    await _desk(client, db)
    page = await client.get("/board")
    assert page.status_code == 200
    html = page.text
    order = [html.index(f'id="row-{c["id"]}"') for c in (first, second, waiting)]
    assert order == sorted(order)  # the oldest dispatch is the most urgent; undispatched last
    row = _row(html, first["id"])
    assert first["case_no"] in row and "sv1" in row and "Dispatched" in row
    assert "Accept" in row and "1 min 00 s left" in row  # 3 min limit, 2 min gone
    assert 'class="timing on-time"' in row and "overdue" not in row
    assert "not dispatched" in _row(html, waiting["id"])
    assert 'hx-get="/board/rows"' in html and 'hx-trigger="every 5s"' in html


async def test_a_timing_turns_red_in_the_fragment_when_the_clock_passes_it(
    client, tokens, db, clock
):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    await _desk(client, db)
    before = _row((await client.get("/board/rows")).text, case["id"])
    assert "overdue" not in before
    clock.advance(minutes=4)
    fragment = await client.get("/board/rows", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    row = _row(fragment.text, case["id"])
    assert 'class="row-overdue"' in row
    accept = re.search(r'<li class="timing overdue" data-timing="accept">.*?</li>', row, re.S)
    assert accept and "overdue by 1 min 00 s" in accept.group(0)


async def test_filters_by_zone_team_and_state_stay_in_the_url(client, tokens, db, clock):
    city = await dispatched_case(client, tokens, surveyor="sv1")
    suburb = await dispatched_case(client, tokens, surveyor="sv2", zone="suburban")
    async with db.session() as session:
        await set_team(session, "sv2", "ordinary")
        await session.commit()
    await _desk(client, db)
    only = (await client.get("/board/rows?zone=suburban")).text
    assert f"row-{suburb['id']}" in only and f"row-{city['id']}" not in only
    assert "1 of 2 open cases shown" in only
    team = (await client.get("/board/rows?team=ordinary")).text
    assert f"row-{suburb['id']}" in team and f"row-{city['id']}" not in team
    pushed = await client.get(
        "/board/rows?zone=suburban&team=&state=",
        headers={"HX-Request": "true", "HX-Trigger": "board-filters"},
    )
    assert pushed.headers["HX-Push-Url"] == "/board?zone=suburban"
    polled = await client.get("/board/rows?zone=suburban", headers={"HX-Trigger": "board-live"})
    assert "HX-Push-Url" not in polled.headers
    reloaded = (await client.get("/board?zone=suburban&state=overdue")).text
    assert '<option value="suburban" selected>' in reloaded
    assert '<option value="overdue" selected>' in reloaded
    assert "No open case matches." in reloaded  # nothing overdue yet
    clock.advance(minutes=4)
    overdue = (await client.get("/board/rows?state=overdue")).text
    assert f"row-{city['id']}" in overdue and f"row-{suburb['id']}" in overdue
    junk = await client.get("/board/rows?zone=mars&state=%00")
    assert junk.status_code == 200 and f"row-{city['id']}" in junk.text  # ignored: no filter
    nobody = await client.get("/board?team=" + "x%00" * 500)
    assert nobody.status_code == 200 and "No open case matches." in nobody.text


async def test_open_a_case_from_the_form_in_branch_time(client, tokens, db):
    csrf = await _desk(client, db)
    form = {
        "csrf": csrf,
        "case_no": " RPT-DESK-1 ",
        "reported_at": "2026-01-05T15:55",
        "occurred_at": "2026-01-05T15:40",
        "address": "人民广场",
        "lat": "31.2304",
        "lon": "121.4737",
        "zone": "city",
        "plate": "沪A12345",
        "simple_procedure": "1",
    }
    opened = await client.post("/board/cases", data=form, follow_redirects=False)
    assert opened.status_code == 303, opened.text
    target = opened.headers["location"]
    case_id = re.match(r"/board/cases/([0-9a-f-]{36})\?done=opened$", target).group(1)
    page = await client.get(target)
    assert "Case RPT-DESK-1 opened: dispatch a surveyor." in page.text
    stored = (await client.get(f"/v1/cases/{case_id}", headers=tokens["disp"])).json()
    assert stored["reported_at"].startswith("2026-01-05T07:55:00")  # 15:55 at +08:00
    assert stored["occurred_at"].startswith("2026-01-05T07:40:00")
    assert stored["simple_procedure"] is True and stored["plate"] == "沪A12345"
    again = await client.post("/board/cases", data={**form, "back": "zone=city"})
    assert again.url.path == f"/board/cases/{case_id}"
    assert again.url.query == b"zone=city&done=existing"
    assert "Case RPT-DESK-1 already exists: here it is." in again.text
    assert 'name="back" value="zone=city"' in again.text  # the board's filters go on


async def test_a_refused_new_case_is_shown_beside_the_form(client, tokens, db):
    csrf = await _desk(client, db)
    form = {
        "csrf": csrf,
        "case_no": "RPT-DESK-2",
        "reported_at": "2026-01-05T15:55",
        "occurred_at": "2026-01-05T16:40",  # after the report
        "address": "somewhere",
        "lat": "31.2",
        "lon": "121.4",
        "zone": "city",
    }
    late = await client.post("/board/cases", data={**form, "back": "state=overdue"})
    assert late.status_code == 400 and "<html" in late.text
    assert '<option value="overdue" selected>' in late.text  # the filters it came from
    error = re.search(r'<p id="open-error"[^>]*>(.*?)</p>', late.text, re.S).group(1)
    assert "occurred_at" in error
    assert (
        'value="RPT-DESK-2"' in late.text
        and '<details id="board-open" class="board-open" open>' in late.text
    )
    for field, value in (("lat", "north"), ("lat", "nan"), ("lon", "200"), ("zone", "moon")):
        bad = await client.post("/board/cases", data={**form, "occurred_at": "", field: value})
        assert bad.status_code == 400, (field, value)
        assert f"Refused: {field}" in bad.text, bad.text
    when = await client.post("/board/cases", data={**form, "reported_at": "yesterday"})
    assert when.status_code == 400 and "reported_at: must be a date and time" in when.text
    nothing = await client.post("/board/cases", data={**form, "case_no": "  "})
    assert nothing.status_code == 400 and "case_no" in nothing.text
    twice = await client.post(
        "/board/cases",
        content=f"csrf={csrf}&case_no=A&case_no=B&back=x&back=y",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400 and "<html" in twice.text  # a page, never JSON
    forged = await client.post("/board/cases", data={**form, "csrf": "forged"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    board = (await client.get("/v1/board", headers=tokens["disp"])).json()
    assert board["cases"] == []


async def test_dispatch_and_redispatch_with_a_purpose(client, tokens, db):
    case = await open_case(client, tokens["disp"])
    csrf = await _desk(client, db)
    panel = await client.get(f"/board/cases/{case['id']}?zone=city", headers={"HX-Request": "1"})
    assert panel.status_code == 200 and "<html" not in panel.text
    assert '<option value="sv1"' in panel.text and '<option value="sv2"' in panel.text
    assert 'name="back" value="zone=city"' in panel.text
    assert "Not dispatched yet." in panel.text and 'id="delegate-form"' not in panel.text
    url = f"/board/cases/{case['id']}/dispatch"
    sent = await client.post(
        url,
        data={"csrf": csrf, "surveyor": "sv1", "purpose": "scene", "back": "zone=city"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/board?zone=city&done=dispatched&case={case['case_no']}"
    board = await client.get(sent.headers["location"])
    assert f"Case {case['case_no']} dispatched." in board.text
    page = (await client.get(f"/board/cases/{case['id']}")).text  # a page of its own too
    assert "<html" in page and "Re-dispatch" in page and "Scene survey" in page
    assert re.search(r'data-timing="accept">Accept:\s+3 min 00 s left', page)
    assert "sv1" in _row(board.text, case["id"])
    again = await client.post(
        url, data={"csrf": csrf, "surveyor": "sv2", "purpose": "estimate"}, follow_redirects=False
    )
    assert again.status_code == 303
    stored = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
    assert [(d["surveyor"], d["purpose"]) for d in stored["dispatches"]] == [
        ("sv1", "scene"),
        ("sv2", "estimate"),
    ]
    refused = await client.post(url, data={"csrf": csrf, "surveyor": "nobody"})
    assert refused.status_code == 400 and "<html" in refused.text
    error = re.search(r'<p id="dispatched-error"[^>]*>(.*?)</p>', refused.text, re.S).group(1)
    assert "no active surveyor named" in error
    picnic = await client.post(url, data={"csrf": csrf, "surveyor": "sv1", "purpose": "picnic"})
    assert picnic.status_code == 400 and "Refused: purpose" in picnic.text
    missing = await client.post(
        f"/board/cases/{new_id()}/dispatch", data={"csrf": csrf, "surveyor": "sv1"}
    )
    assert missing.status_code == 404 and "<html" in missing.text


async def test_delegate_an_out_of_town_case_and_refusals(client, tokens, db):
    away = await dispatched_case(client, tokens, surveyor="sv1", zone="out_of_town")
    city = await dispatched_case(client, tokens, surveyor="sv1")
    csrf = await _desk(client, db)
    assert 'id="delegate-form"' in (await client.get(f"/board/cases/{away['id']}")).text
    assert 'id="delegate-form"' not in (await client.get(f"/board/cases/{city['id']}")).text
    url = f"/board/cases/{away['id']}/delegate"
    form = {"csrf": csrf, "to": "Suzhou branch", "reference": "SZ-9"}
    done = await client.post(url, data=form, follow_redirects=False)
    assert done.status_code == 303 and "done=delegated" in done.headers["location"]
    twice = await client.post(url, data=form)
    assert twice.status_code == 409 and "already delegated" in twice.text
    assert 'value="Suzhou branch"' in twice.text  # what was typed is kept
    wrong = await client.post(f"/board/cases/{city['id']}/delegate", data=form)
    assert wrong.status_code == 409 and "only out-of-town cases are delegated" in wrong.text
    nobody = await client.post(url, data={"csrf": csrf, "to": " "})
    assert nobody.status_code in (400, 409) and 'id="delegated-error"' in nobody.text


async def test_close_needs_a_reason_and_takes_the_case_off_the_board(client, tokens, db):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    csrf = await _desk(client, db)
    url = f"/board/cases/{case['id']}/close"
    refused = await client.post(url, data={"csrf": csrf, "reason": ""})
    assert refused.status_code == 400
    error = re.search(r'<p id="closed-error"[^>]*>(.*?)</p>', refused.text, re.S).group(1)
    assert "closing it needs a reason" in error
    closed = await client.post(
        url, data={"csrf": csrf, "reason": "withdrawn"}, follow_redirects=False
    )
    assert closed.status_code == 303
    board = await client.get(closed.headers["location"])
    assert "closed: it has left the board" in board.text
    assert f"row-{case['id']}" not in board.text
    twice = await client.post(url, data={"csrf": csrf, "reason": "withdrawn"})
    assert twice.status_code == 409 and "already closed" in twice.text


async def test_the_load_warns_when_one_surveyor_gets_several_new_reports(client, tokens, db):
    for _ in range(3):
        await dispatched_case(client, tokens, surveyor="sv1")
    await _desk(client, db)
    html = (await client.get("/board")).text
    assert 'id="board-backup-warning"' in html
    load = re.search(r'<tr id="load-sv1" class="needs-backup">.*?</tr>', html, re.S).group(0)
    assert "call in the backup group" in load and "<td>3</td>" in load
    assert '<tr id="load-sv2">' in html  # one surveyor alone is flagged


async def test_the_last_fix_gives_distance_and_eta(client, tokens, db, clock):
    case = await dispatched_case(client, tokens, surveyor="sv1")
    fix = {"lat": 31.2304 + 0.018, "lon": 121.4737, "accuracy_m": 8}  # about 2 km north
    sent = await push(
        client,
        tokens["sv1"],
        push_body(new_id(), [packet(case["id"], 1, "position", gps=fix)]),
    )
    assert sent.json()["results"][0]["status"] == "accepted", sent.text
    await _desk(client, db)
    row = _row((await client.get("/board/rows")).text, case["id"])
    assert re.search(r"2\.0 km to the scene, ETA \d\d:\d\d", row), row


async def test_chinese_labels_and_a_reviewer_gets_403(client, tokens, db):
    await dispatched_case(client, tokens, surveyor="sv1")
    await _desk(client, db)
    zh = await client.get("/board", headers={"Accept-Language": "zh-CN"})
    assert "调度看板" in zh.text and "接受派工" in zh.text and "查勘员工作量" in zh.text
    client.cookies.clear()
    await with_password(db, "rev")
    await log_in(client, "rev")
    forbidden = await client.get("/board")
    assert forbidden.status_code == 403 and "may not open this page" in forbidden.text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', forbidden.text).group(1)
    assert (await client.get("/board/rows")).status_code == 403
    posted = await client.post("/board/cases", data={"csrf": csrf, "case_no": "X"})
    assert posted.status_code == 403 and "<html" in posted.text


async def test_an_admin_works_the_board_too(client, tokens, db):
    case = await open_case(client, tokens["disp"])
    csrf = await _desk(client, db, "admin")
    sent = await client.post(
        f"/board/cases/{case['id']}/dispatch",
        data={"csrf": csrf, "surveyor": "sv2"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert "sv2" in _row((await client.get("/board")).text, case["id"])


async def test_a_self_report_awaits_its_confirming_dispatch(client, tokens, db):
    body = {
        "case_no": "SELF-1",
        "reported_at": "2026-01-05T15:55:00+08:00",
        "occurred_at": "2025-12-20T10:00:00+08:00",  # weeks before: a late report
        "location": {"lat": 31.2304, "lon": 121.4737},
        "address": "somewhere",
        "zone": "city",
    }
    opened = await client.post("/v1/cases", json=body, headers=tokens["sv1"])
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    csrf = await _desk(client, db)
    waiting = (await client.get("/board/rows?state=awaiting_confirmation")).text
    row = _row(waiting, case_id)
    assert "Awaiting confirmation" in row and "Self-reported by sv1" in row
    assert "Late report" in row
    panel = (await client.get(f"/board/cases/{case_id}")).text
    assert '<option value="sv1" selected>' in panel  # dispatching to the reporter confirms it
    sent = await client.post(
        f"/board/cases/{case_id}/dispatch",
        data={"csrf": csrf, "surveyor": "sv1"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    confirmed = (await client.get("/board/rows?state=awaiting_confirmation")).text
    assert f"row-{case_id}" not in confirmed
