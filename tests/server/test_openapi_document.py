"""The published OpenAPI document describes the whole contract, the same way on every start,
and its docs pages need no internet."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}
ERROR_REF = "#/components/schemas/ErrorBody"
DUMP = """
import sys
from litestar.testing import TestClient
from server.app import create_app
from server.settings import Settings
url = "sqlite+aiosqlite:///" + sys.argv[1] + "/x.db"
with TestClient(create_app(Settings(data_dir=sys.argv[1], database_url=url))) as client:
    sys.stdout.buffer.write(client.get("/schema/openapi.json").content)
"""


@pytest.fixture
async def document(client) -> dict:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def op(document: dict, method: str, path: str) -> dict:
    return document["paths"][path][method]


async def test_every_error_response_has_the_one_error_body(document):
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            if method == "head":  # a HEAD answer carries no body
                assert "content" not in response, (method, path, status)
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (method, path, status)
    body = document["components"]["schemas"]["ErrorBody"]
    assert body["required"] == ["detail", "status_code"] and "extra" in body["properties"]


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("get", "/v1/board", {401, 403}),
        ("post", "/v1/cases", {200, 201, 400, 401, 403, 409}),
        ("post", "/v1/cases/{case_id}/dispatch", {400, 401, 403, 404, 409}),
        ("post", "/v1/cases/{case_id}/review", {400, 401, 403, 404, 409}),
        ("post", "/v1/sync/push", {400, 401, 403, 409, 413}),
        ("put", "/v1/media/{sha256}", {200, 201, 400, 401, 413, 415, 422, 503}),
        ("get", "/v1/media/{sha256}", {307, 403, 404}),
        ("post", "/v1/uploads", {201, 400, 401, 412, 413}),
        ("patch", "/v1/uploads/{upload_id}", {404, 409, 410, 412, 413, 415, 422, 460}),
        ("delete", "/v1/uploads/{upload_id}", {204, 404, 410, 412}),
        ("get", "/health", {200, 431}),
    ],
)
async def test_each_operation_lists_the_statuses_it_answers(document, method, path, codes):
    listed = {int(s) for s in op(document, method, path)["responses"]}
    assert codes <= listed
    assert 431 in listed


async def test_raw_and_msgpack_request_bodies(document):
    put = op(document, "put", "/v1/media/{sha256}")["requestBody"]
    assert put["required"] is True
    assert put["content"]["application/octet-stream"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    push = op(document, "post", "/v1/sync/push")["requestBody"]["content"]
    assert push["application/json"] == push["application/msgpack"]
    patch = op(document, "patch", "/v1/uploads/{upload_id}")["requestBody"]["content"]
    assert list(patch) == ["application/offset+octet-stream"]


async def test_tus_headers_are_documented(document):
    def headers_in(method: str, path: str) -> set[str]:
        params = op(document, method, path).get("parameters", [])
        return {p["name"] for p in params if p["in"] == "header"}

    def headers_out(method: str, path: str, status: str) -> set[str]:
        return set(op(document, method, path)["responses"][status].get("headers", {}))

    uploads, one = "/v1/uploads", "/v1/uploads/{upload_id}"
    assert {"Tus-Resumable", "Upload-Length", "Upload-Metadata"} <= headers_in("post", uploads)
    assert {"Location", "Upload-Expires", "Tus-Resumable"} <= headers_out("post", uploads, "201")
    assert {"Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm"} <= (
        headers_out("options", uploads, "204")
    )
    assert {"Tus-Resumable", "Upload-Offset", "Upload-Checksum"} <= headers_in("patch", one)
    assert {"Upload-Offset", "Upload-Expires"} <= headers_out("patch", one, "204")
    assert {"Upload-Offset", "Upload-Length"} <= headers_out("head", one, "200")
    assert "Tus-Resumable" in headers_in("delete", one)
    assert "Tus-Resumable" in headers_out("patch", one, "460")


async def test_public_operations_need_no_token(document):
    assert document["security"] == [{"bearer": []}]
    public = {
        (m, p) for m, p, o in operations(document) if o.get("security") == [] and "401" not in o
    }
    health = {("get", "/health"), ("get", "/healthz"), ("get", "/readyz")}
    assert public == {*health, ("options", "/v1/uploads")}
    for method, path, operation in operations(document):
        if (method, path) not in public:
            assert "security" not in operation and "401" in operation["responses"]


async def test_path_parameters_carry_their_patterns(document):
    expected = {
        "case_id": ("format", "uuid"),
        "sha256": ("pattern", "^[0-9a-f]{64}$"),
        "upload_id": ("pattern", "^[0-9a-f]{32}$"),
    }
    seen = set()
    for method, path, operation in operations(document):
        for param in operation.get("parameters", []):
            if param["in"] == "path" and param["name"] in expected:
                key, value = expected[param["name"]]
                assert param["schema"][key] == value, (method, path, param)
                seen.add(param["name"])
    assert seen == set(expected)


def _walk(node, key=None):
    if isinstance(node, dict):
        yield key, node
        for k, v in node.items():
            yield from _walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)


async def test_times_are_date_times_and_examples_are_real(document):
    for name, schema in document["components"]["schemas"].items():
        for prop, spec in schema.get("properties", {}).items():
            if (name, prop) == ("DelegateRequest", "to"):
                continue  # who the survey is delegated to, not a time
            if prop.endswith("_at") or prop in {"start", "end", "time", "from", "to", "now"}:
                variants = spec.get("oneOf", [spec])
                assert any(v.get("format") == "date-time" for v in variants), (name, prop)
    sla = op(document, "get", "/v1/reports/sla")["parameters"]
    assert {p["name"]: p["schema"].get("format") for p in sla if p["name"] in ("from", "to")} == {
        "from": "date-time",
        "to": "date-time",
    }
    for key, node in _walk(document):
        for example in node.get("examples", []) if isinstance(node.get("examples"), list) else []:
            if node.get("format") == "date-time":
                assert re.search(r"(Z|[+-]\d\d:\d\d)$", example), (key, example)
            if key == "share" or node.get("title") == "TimingShare":
                assert not isinstance(example, int | float) or 0 <= example <= 1, (key, example)


def test_the_document_is_the_same_on_every_start(tmp_path: Path):
    dumps = []
    for seed in ("1", "2"):
        data = tmp_path / seed
        data.mkdir()
        result = subprocess.run(
            [sys.executable, "-c", DUMP, str(data)],
            capture_output=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            cwd=Path(__file__).parents[2],
        )
        dumps.append(result.stdout)
    assert dumps[0] == dumps[1]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_docs_pages_need_no_internet(client, page):
    response = await client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    links = _Links()
    links.feed(response.text)
    assert links.urls, "the page references its assets"
    assert not re.search(r"https?://", response.text), "no external host"
    for url in links.urls:
        asset = await client.get(url)
        assert asset.status_code == 200 and asset.content, url
    spec_url = re.search(r"url: ['\"]([^'\"]+)['\"]", response.text)
    assert spec_url is None or (await client.get(spec_url.group(1))).status_code == 200
    assert json.loads((await client.get("/schema/openapi.json")).text)["openapi"].startswith("3.")
