"""Schema-driven fuzzing: whatever a client sends to any documented operation, no 5xx.

Schemathesis reads the published OpenAPI document of a live server (so the document itself
must be usable by stock tooling) and generates valid and invalid requests for every operation.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _fuzz_operation(
    operation, base_url: str, headers: dict[str, str], examples: int, seen: Counter
) -> None:
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

    run()


@pytest.mark.parametrize("who", ["disp", "sv1", "rev"])
def test_no_request_gets_a_server_error(live_server, who):
    url, tokens = live_server
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 3
    seen: Counter[int] = Counter()
    for operation in operations:
        _fuzz_operation(operation, url, tokens[who], examples=60, seen=seen)
    assert seen[4] > 0 and seen[5] == 0  # invalid requests were really sent, and refused
    if who == "disp":
        assert seen[2] > 0  # and valid ones went through
