"""The anti-fraud listing: flagged cases with their flags, counts per surveyor and zone, on
the desk (/fraud), in the reports page and in the SLA report's JSON and CSV. Flags are read
by name, so one the desk has no label for yet is shown as its name."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import update

from media.models import MediaObject
from tests.desk.helpers import log_in, with_password
from tests.desk.test_reports import DAY, row
from tests.factories import T0, dispatched_case, new_id, packet, push, push_body
from tests.media.helpers import upload
from tests.media.samples import photo, sha


async def _photo_on(client, tokens, surveyor: str, case_id: str, data: bytes) -> None:
    sent = packet(case_id, 1, "photo", media=[sha(data)], data={"category": "damage"})
    response = await push(client, tokens[surveyor], push_body(new_id(), [sent]))
    assert response.json()["results"][0]["status"] == "accepted", response.text


async def flagged_morning(client, tokens, clock, db):
    """One photo on two cases (sv1's in the city, sv2's in the suburbs); sv1's case has a
    second photo carrying a known flag and one no label exists for."""
    clock.set(T0)
    one = await dispatched_case(client, tokens, surveyor="sv1", zone="city")
    two = await dispatched_case(client, tokens, surveyor="sv2", zone="suburban")
    clean = await dispatched_case(client, tokens, surveyor="sv1", zone="city")
    reused, odd, fine = photo(seed=1), photo(seed=2), photo(seed=3)
    for data in (reused, odd, fine):
        await upload(client, tokens["sv1"], data)
    await _photo_on(client, tokens, "sv1", one["id"], reused)
    await _photo_on(client, tokens, "sv2", two["id"], reused)
    await _photo_on(client, tokens, "sv1", one["id"], odd)
    await _photo_on(client, tokens, "sv1", clean["id"], fine)
    async with db.session() as session:  # as the photo checks would store them
        await session.execute(
            update(MediaObject)
            .where(MediaObject.sha256 == sha(odd))
            .values(exif_flags="no_exif,brand_new_flag")
        )
        await session.commit()
    return one, two, clean


async def _logged_in(client, db, name: str) -> None:
    await with_password(db, name)
    assert (await log_in(client, name)).status_code == 303


def _flags(html: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="flag bad" data-flag="([^"]+)"[^>]*>([^<]*)</span>', html))


async def test_the_reviewer_lists_flagged_cases_with_counts(client, tokens, clock, db):
    one, two, clean = await flagged_morning(client, tokens, clock, db)
    await _logged_in(client, db, "rev")
    page = await client.get("/fraud", params=DAY)
    assert page.status_code == 200, page.text
    html = page.text
    first = re.search(rf'<tr data-case="{one["id"]}">(.*?)</tr>', html, re.S).group(1)
    assert _flags(first) == {
        "brand_new_flag": "brand_new_flag ×1",  # no label: its name
        "no_exif": "no EXIF (not as a camera writes it) ×1",
        "reused_on_other_case": "same photo on another case ×1",
    }
    assert two["id"][:8] in first  # the other case holding the bytes
    second = re.search(rf'<tr data-case="{two["id"]}">(.*?)</tr>', html, re.S).group(1)
    assert set(_flags(second)) == {"reused_on_other_case"}
    assert f'data-case="{clean["id"]}"' not in html  # nothing flagged
    surveyors = html[html.index('id="fraud-surveyors"') : html.index('id="fraud-zones"')]
    assert re.search(r'data-col="cases">1<.*data-flag="no_exif">1<', row(surveyors, "sv1"), re.S)
    assert re.search(r'data-flag="no_exif">0<', row(surveyors, "sv2"))
    zones = html[html.index('id="fraud-zones"') :]
    assert 'data-col="cases">1<' in row(zones, "suburban") and "Suburban county" in zones

    chinese = await client.get("/fraud", params=DAY, headers={"Accept-Language": "zh-CN"})
    assert "可疑案件" in chinese.text and "无EXIF（不像相机所拍）" in chinese.text


async def test_the_fraud_page_is_for_reviewers_and_refuses_a_bad_period(client, tokens, db):
    await _logged_in(client, db, "disp")
    assert (await client.get("/fraud")).status_code == 403
    await _logged_in(client, db, "rev")
    refused = await client.get("/fraud", params={"from": "2026-13-01"})
    assert refused.status_code == 400 and 'id="fraud-error"' in refused.text
    empty = await client.get("/fraud", params=DAY)
    assert empty.status_code == 200 and 'id="fraud-empty"' in empty.text


async def test_the_sla_report_counts_flagged_cases_per_group(client, tokens, clock, db):
    await flagged_morning(client, tokens, clock, db)
    await _logged_in(client, db, "rev")
    page = await client.get("/reports", params={**DAY, "group_by": "zone"})
    flags = page.text[page.text.index('id="report-flags"') :]
    city = row(flags, "city")
    assert 'data-col="flagged">1<' in city
    assert set(_flags(city)) == {"brand_new_flag", "no_exif", "reused_on_other_case"}

    period = {"from": "2026-01-05T00:00:00+08:00", "to": "2026-01-06T00:00:00+08:00"}
    api = await client.get("/v1/reports/sla", params=period, headers=tokens["rev"])
    groups = {g["group"]: g for g in api.json()["groups"]}
    assert groups["sv1"]["flagged_cases"] == 1 and groups["sv2"]["flagged_cases"] == 1
    assert groups["sv1"]["flags"] == {"brand_new_flag": 1, "no_exif": 1, "reused_on_other_case": 1}
    as_csv = await client.get(
        "/v1/reports/sla", params=period, headers={**tokens["rev"], "Accept": "text/csv"}
    )
    header, *lines = list(csv.reader(io.StringIO(as_csv.text)))
    assert header[-2:] == ["flagged_cases", "flags"]
    by_group = {line[0]: line[-2:] for line in lines}
    assert by_group["sv2"] == ["1", "reused_on_other_case=1"]
