"""Liveness and the published OpenAPI document."""

from __future__ import annotations


async def test_health_needs_no_token(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_openapi_document_describes_the_contract(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert {"/v1/cases", "/v1/cases/{case_id}", "/v1/cases/{case_id}/dispatch"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    new_case = doc["components"]["schemas"]["NewCase"]
    assert set(new_case["required"]) >= {"case_no", "reported_at", "location", "zone"}
