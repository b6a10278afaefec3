"""The CSV SLA report names its charset exactly once."""

from __future__ import annotations


async def test_csv_report_content_type_names_charset_once(client, tokens):
    response = await client.get(
        "/v1/reports/sla",
        params={"from": "2026-01-01T00:00:00+08:00", "to": "2026-02-01T00:00:00+08:00"},
        headers={**tokens["disp"], "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
