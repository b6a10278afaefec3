"""A Collect phone's clock, judged like a tablet's: from the `Date` header OpenRosa requests
carry (the phone's clock as it sends), or, without one, from the form's own `end`."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

from sqlalchemy import select

from sync.models import Device
from tests.factories import dispatched_case
from tests.openrosa.collect import Collect, instance_xml, new_instance_id


async def _offset(db) -> int:
    async with db.session(write=False) as session:
        return await session.scalar(select(Device.clock_offset_ms))


async def test_a_phone_90_s_slow_has_its_events_corrected_by_90_s(client, tokens, db, clock):
    case = await dispatched_case(client, tokens)
    clock.advance(minutes=30)
    collect = Collect(client, f"/collect/{tokens['sv1']['Authorization'][7:]}")
    slow = format_datetime(clock.now() - timedelta(seconds=90), usegmt=True)
    xml = instance_xml(case["id"], instance_id=new_instance_id(),
                       arrived_at="2026-01-05T16:10:00+08:00")  # fmt: skip
    response = await collect.request(
        "POST", "/submission", headers={"Date": slow},
        files=[("xml_submission_file", ("s.xml", xml, "text/xml"))],
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert await _offset(db) == 90_000
    detail = (await client.get(f"/v1/cases/{case['id']}", headers=tokens["disp"])).json()
    [arrived] = [e for e in detail["events"] if e["kind"] == "arrived"]
    assert (arrived["time"], arrived["source"]) == ("2026-01-05T08:11:30Z", "device_corrected")


async def test_without_a_date_header_the_form_end_is_the_phones_clock(client, tokens, db, clock):
    case = await dispatched_case(client, tokens)
    clock.advance(minutes=45)  # received 5 minutes after the form's end
    collect = Collect(client, f"/collect/{tokens['sv1']['Authorization'][7:]}")
    xml = instance_xml(case["id"], instance_id=new_instance_id(),
                       end="2026-01-05T16:40:00+08:00")  # fmt: skip
    response = await client.post(
        collect.server + "/submission",
        files=[("xml_submission_file", ("s.xml", xml, "text/xml"))],
    )
    assert response.status_code == 201, response.text
    assert await _offset(db) == 5 * 60_000
