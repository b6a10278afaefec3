"""The desk's case list (search, paging, refusals shown by the form) and the case page
(timeline with held and rejected packets apart, timings, gallery linking the screen size
then the original, EXIF facts, flags in words, the checklist of documents, the SVG map)."""

from __future__ import annotations

import re
from datetime import datetime

from tests.desk.helpers import log_in, with_password
from tests.factories import at, dispatched_case, new_id, open_case, packet, push, push_body
from tests.media.helpers import eventually, job_done, push_photo, upload
from tests.media.samples import pdf, photo, sha
from tests.tablets import Tablet

NEAR = (31.2310, 121.4740)  # about 70 m from the scene of tests.factories.case_body
FAR = (31.2574, 121.4737)  # 3 km north


async def _desk(client, db, name="disp"):
    await with_password(db, name)
    response = await log_in(client, name)
    assert response.status_code == 303, response.text


async def _page(client, path, status=200):
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == status, response.text
    return response.text


def _case_rows(html):
    return re.findall(r'<tr data-case-id="([^"]+)">', html)


async def test_the_list_searches_and_pages(client, tokens, db):
    await _desk(client, db)
    first = await dispatched_case(client, tokens, surveyor="sv1", case_no="SH-0001", plate="沪A111")
    await open_case(client, tokens["disp"], case_no="SH-0002", plate="沪B222")
    await open_case(client, tokens["disp"], case_no="BJ-0003", plate="京A333")

    html = await _page(client, "/cases")
    assert len(_case_rows(html)) == 3 and "3 cases found" in html
    assert '<option value="sv1">' in html and '<option value="sv2">' in html  # surveyor names
    assert 'label for="q-case_no"' in html and 'id="q-from" name="from" type="date"' in html
    found = await _page(client, "/cases?case_no=sh-&surveyor=sv1")
    assert _case_rows(found) == [first["id"]]
    assert f'href="/cases/{first["id"]}">SH-0001</a>' in found
    assert 'value="sh-"' in found  # the form keeps what was asked
    assert _case_rows(await _page(client, "/cases?plate=a3")) != []
    none = await _page(client, "/cases?state=approved")
    assert "No case matches" in none and _case_rows(none) == []

    paged = await _page(client, "/cases?limit=2&plate=%E6%B2%AA")  # 沪: two cases
    assert len(_case_rows(paged)) == 2 and 'id="page-next"' not in paged
    one = await _page(client, "/cases?limit=1&plate=%E6%B2%AA")
    nxt = re.search(r'id="page-next" rel="next" href="([^"]+)"', one).group(1).replace("&amp;", "&")
    assert "offset=1" in nxt and "plate=" in nxt
    second = await _page(client, nxt)
    assert len(_case_rows(second)) == 1 and _case_rows(second) != _case_rows(one)
    assert 'id="page-previous"' in second and 'id="page-next"' not in second


async def test_a_bad_search_is_shown_next_to_the_form(client, tokens, db):
    await _desk(client, db, "rev")
    html = await _page(client, "/cases?from=yesterday", status=400)
    assert 'id="search-error"' in html and "Reported from" in html
    assert 'id="case-search"' in html
    assert "must be one of" in await _page(client, "/cases?state=lost", status=400)
    assert "whole number" in await _page(client, "/cases?offset=-3", status=400)


async def test_labels_are_chinese_where_the_browser_asks(client, tokens, db):
    await _desk(client, db)
    await open_case(client, tokens["disp"])
    response = await client.get("/cases", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 200
    assert "报案号" in response.text and "已报案" in response.text


async def test_the_case_page_shows_the_timeline_timings_and_packets_apart(
    client, tokens, db, clock
):
    await _desk(client, db)
    clock.set(at(0))
    case = await dispatched_case(client, tokens, surveyor="sv1")
    tablet = Tablet(tokens["sv1"])
    tablet_packets = [tablet.record(case["id"], "accepted", at(1), gps=True)]
    far = {"lat": FAR[0], "lon": FAR[1], "accuracy_m": 8}
    tablet_packets.append(tablet.record(case["id"], "arrived", at(20), gps=far))
    tablet.record(case["id"], "photo", at(21), category="driving_licence")
    clock.set(at(25))
    await tablet.flush(client, clock)
    # A packet whose data JSON cannot hold (a MessagePack bin) is rejected and kept apart,
    # and a re-send of the tablet's arrival with other content is a conflict.
    turned = packet(case["id"], 1, "note", data={"x": b"bin"})
    response = await push(client, tokens["sv1"], push_body(new_id(), [turned]), msgpack=True)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "rejected"
    resent = {**tablet_packets[1], "kind": "note"}
    response = await push(client, tokens["sv1"], push_body(tablet.device_id, [resent]))
    assert response.json()["results"][0]["reason"] == "conflict"

    html = await _page(client, f"/cases/{case['id']}")
    assert f"Case {case['case_no']}" in html
    timeline = html.split('id="timeline"')[1].split("</table>")[0]
    assert timeline.count("<tr data-packet-id") == 3
    assert "far from the scene" in timeline and "GPS" in timeline
    assert 'id="rejected-packets"' in html and turned["packet_id"] in html
    assert turned["packet_id"] not in timeline and "data.x" in html
    conflicts = html.split('id="conflict-packets"')[1].split("</table>")[0]
    assert resent["packet_id"] in conflicts and "conflict" in conflicts
    assert 'data-timing="arrival"' in html and 'class="state-met"' in html
    assert 'hx-get="/cases/' + case["id"] + '/timings"' in html
    fragment = await _page(client, f"/cases/{case['id']}/timings")
    assert 'data-timing="accept"' in fragment and "<html" not in fragment
    # The map: the scene, the arrival 3 km away with its distance in metres.
    assert '<svg id="case-map"' in html and 'class="map-arrival"' in html
    distance = int(re.search(r'class="map-distance">(\d+) m<', html).group(1))
    assert 2800 < distance < 3100
    assert "<image" not in html  # no tile server configured
    # The checklist of required on-site documents: one photographed, seven missing.
    assert 'data-document="driving_licence" class="done"' in html
    assert 'data-document="vin" class="missing"' in html and "7 of 8 missing" in html


async def test_held_packets_are_shown_apart_until_a_dispatch_follows(client, tokens, db, clock):
    await _desk(client, db)
    clock.set(at(0))
    case = await open_case(client, tokens["disp"], simple_procedure=False)
    held = packet(case["id"], 1, "arrived")
    response = await push(client, tokens["sv1"], push_body(new_id(), [held]))
    assert response.json()["results"][0]["status"] == "held"
    html = await _page(client, f"/cases/{case['id']}")
    assert 'id="held-packets"' in html and held["packet_id"] in html
    assert "No event yet" in html and "no on-site checklist" in html
    dispatched = await client.post(
        f"/v1/cases/{case['id']}/dispatch", json={"surveyor": "sv1"}, headers=tokens["disp"]
    )
    assert dispatched.status_code == 200
    html = await _page(client, f"/cases/{case['id']}")
    assert 'id="held-packets"' not in html
    assert "before the dispatch (irregular report)" in html


async def test_the_gallery_links_the_screen_size_then_the_original(client, tokens, db):
    await _desk(client, db, "rev")
    case = await dispatched_case(client, tokens)
    other = await dispatched_case(client, tokens, surveyor="sv2")
    data = photo(taken_at=datetime(2026, 1, 5, 16, 10), offset="+08:00", gps=NEAR, seed=3)
    await upload(client, tokens["sv1"], data)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)])
    await push_photo(client, tokens["sv2"], other["id"], [sha(data)])  # reused
    await eventually(job_done(db, sha(data)))

    html = await _page(client, f"/cases/{case['id']}")
    item = html.split(f'data-sha256="{sha(data)}"')[1].split("</li>")[0]
    screen_page = f"/cases/{case['id']}/media/{sha(data)}"
    assert f'href="{screen_page}"' in item
    assert f'src="/v1/media/{sha(data)}/thumbnail"' in item
    assert "2026-01-05 16:10:00" in item  # EXIF time in the branch's zone
    assert "m from the scene" in item and "same photo on another case" in item
    assert f'href="/cases/{other["id"]}"' in item
    assert 'class="map-photo"' in html

    screen = await _page(client, screen_page)
    assert f'href="/v1/media/{sha(data)}"' in screen  # the click through to the original
    assert f'src="/v1/media/{sha(data)}/thumbnail?size=screen"' in screen
    for url in (f"/v1/media/{sha(data)}", f"/v1/media/{sha(data)}/thumbnail?size=screen"):
        assert (await client.get(url)).status_code == 200  # the session cookie reads them
    await _page(client, f"/cases/{case['id']}/media/{'0' * 64}", status=404)


async def test_a_pdf_document_is_listed_with_its_original(client, tokens, db):
    await _desk(client, db)
    case = await dispatched_case(client, tokens)
    data = pdf()
    await upload(client, tokens["sv1"], data)
    await push_photo(client, tokens["sv1"], case["id"], [sha(data)], category="claim_form")
    html = await _page(client, f"/cases/{case['id']}")
    item = html.split(f'data-sha256="{sha(data)}"')[1].split("</li>")[0]
    assert "PDF document" in item and "claim form" in item
    assert f'class="original" href="/v1/media/{sha(data)}"' in item
    assert 'data-document="claim_form" class="done"' in html


async def test_unknown_cases_and_surveyors_get_pages_not_errors(client, tokens, db):
    await _desk(client, db, "admin")
    case = await open_case(client, tokens["disp"])
    assert case["case_no"] in await _page(client, f"/cases/{case['id']}")  # every desk role
    html = await _page(client, f"/cases/{new_id()}", status=404)
    assert "no case with id" in html
    assert (await client.get("/cases/not-a-uuid")).status_code == 404
    client.cookies.clear()
    response = await client.get("/cases", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
