"""The branch rates of domain.md in the SLA report: on-site documents, first-scene survey."""

from __future__ import annotations

import csv
import io

from cases.rates import REQUIRED_ON_SITE
from tests.factories import T0, at, dispatched_case
from tests.tablets import Tablet

FAR = {"lat": 31.2574, "lon": 121.4737}  # 3 km north of the scene


async def test_report_gives_on_site_documents_and_first_scene_rates(client, tokens, clock):
    clock.set(T0)
    complete = await dispatched_case(client, tokens, surveyor="sv1", simple_procedure=True)
    partial = await dispatched_case(client, tokens, surveyor="sv1", simple_procedure=True)
    ordinary = await dispatched_case(client, tokens, surveyor="sv1", simple_procedure=False)
    tablet = Tablet(tokens["sv1"])
    tablet.record(complete["id"], "arrived", at(20), gps=True)
    for i, category in enumerate(sorted(REQUIRED_ON_SITE)):
        tablet.record(complete["id"], "document", at(21 + i), category=category)
    tablet.record(complete["id"], "survey_completed", at(30))
    tablet.record(partial["id"], "arrived", at(20), gps={**FAR, "accuracy_m": 8})
    tablet.record(partial["id"], "document", at(22), category="driving_licence")
    tablet.record(partial["id"], "survey_completed", at(30))
    tablet.record(partial["id"], "document", at(40), category="claim_form")  # after leaving
    tablet.record(ordinary["id"], "arrived", at(20), gps=True)
    clock.set(at(45))
    await tablet.flush(client, clock)

    query = {"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "group_by": "zone"}
    report = await client.get("/v1/reports/sla", params=query, headers=tokens["disp"])
    assert report.status_code == 200, report.text
    (city,) = report.json()["groups"]
    assert city["cases"] == 3
    # the ordinary case is no simple procedure: not counted for documents
    assert city["rates"]["documents_on_site"] == {"decided": 2, "within": 1, "share": 0.5}
    assert city["rates"]["first_scene"] == {"decided": 3, "within": 2, "share": 0.6667}

    as_csv = await client.get(
        "/v1/reports/sla", params=query, headers={**tokens["disp"], "Accept": "text/csv"}
    )
    (row,) = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (row["documents_on_site_decided"], row["documents_on_site_share"]) == ("2", "0.5")
    assert row["first_scene_within"] == "2"
