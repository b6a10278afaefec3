"""Schema-driven fuzzing: whatever a client sends to any documented operation, no 5xx.

Schemathesis reads the published OpenAPI document of a live server (so the document itself
must be usable by stock tooling) and generates valid and invalid requests for every operation,
as every role and with no token; on a few of each operation's paths it also sends every other
method (what Litestar answers by itself: OPTIONS, HEAD, 405s).
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@schemathesis.serializer("application/offset+octet-stream")
def _tus_chunk(ctx, value):  # type: ignore[no-untyped-def]
    """tus PATCH bodies are raw bytes, like application/octet-stream."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH")
OTHER_METHOD_PATHS = 1  # per operation: implicit answers do not depend on the values


def _other_methods(base_url: str, path: str, documented: set[str], headers, seen) -> None:
    for method in METHODS:
        if method not in documented:
            response = httpx.request(method, base_url + path, headers=headers)
            seen[response.status_code // 100] += 1
            assert response.status_code < 500, (
                f"{method} {path} -> {response.status_code}: {response.text}"
            )


# Examples per operation: the dispatcher's requests go furthest (most are taken), the other
# identities mostly meet guards; five identities on two backends keep CI within minutes.
EXAMPLES = {"disp": 20, "sv1": 8, "rev": 6, "admin": 6, "anonymous": 3}


def _fuzz_operation(
    operation,
    base_url: str,
    headers: dict[str, str],
    examples: int,
    seen: Counter,
) -> list[str]:
    """Fuzz one operation; the first few distinct paths it requested, for other methods."""
    paths_tried: list[str] = []
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        response = case.call(base_url=base_url, headers=headers)
        seen[response.status_code // 100] += 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
        )
        if len(paths_tried) < OTHER_METHOD_PATHS and case.formatted_path not in paths_tried:
            paths_tried.append(case.formatted_path)

    run()
    return paths_tried


@pytest.mark.parametrize("who", ["disp", "sv1", "rev", "admin", "anonymous"])
def test_no_request_gets_a_server_error(live_server, who):
    url, tokens = live_server
    headers = {} if who == "anonymous" else tokens[who]
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 21  # every documented operation, tus and public ones included
    methods: dict[str, set[str]] = {}
    for operation in operations:
        methods.setdefault(operation.path, set()).add(operation.method.upper())
    seen: Counter[int] = Counter()
    server_errors: list[str] = []  # every operation is fuzzed; all of its 5xx are reported
    for operation in operations:
        try:
            paths = _fuzz_operation(operation, url, headers, EXAMPLES[who], seen)
        except Exception as exc:  # Hypothesis' shrunk failure, or several of them
            server_errors.append(f"{operation.method.upper()} {operation.path}: {exc}")
            continue
        for path in paths:  # outside Hypothesis: a failure here names the request plainly
            try:
                _other_methods(url, path, methods[operation.path], headers, seen)
            except AssertionError as exc:
                server_errors.append(str(exc).splitlines()[0])
    assert not server_errors, "\n".join(server_errors)
    assert seen[4] > 0 and seen[5] == 0  # invalid requests were really sent, and refused
    if who == "disp":
        assert seen[2] > 0  # and valid ones went through
