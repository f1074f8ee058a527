"""Property-based API fuzzing from /openapi.json: no input may produce a 5xx.

Runs against a real server process; the number of examples per operation is
bounded so the whole run takes seconds.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from tests.harness import ServerProcess, SimDevice

EXAMPLES = 25
NEGATIVE = GenerationMode.NEGATIVE
NO_INPUT = {("GET", "/healthz"), ("GET", "/v1/keypackages/count")}
MODES = (GenerationMode.POSITIVE, NEGATIVE)
# Whether schema-valid input must succeed depends on state (an account that
# exists, a group one belongs to), so "positive data acceptance" is not checked.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("fuzz")), rate_limit_scale=1000).start()

    async def session() -> str:
        async with httpx.AsyncClient(base_url=server.url) as http:
            return (await SimDevice(http, "fuzzer@alpha.test").register()).token

    try:
        yield server, asyncio.run(session())
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: tuple[ServerProcess, str]):
    server, _ = fuzz_server
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def negative_headers(case) -> bool:
    meta = case._meta
    return meta is not None and any(
        "header" in str(location).lower() and info.mode == NEGATIVE
        for location, info in meta.components.items()
    )


def fuzz(op, mode: GenerationMode, headers: dict[str, str]) -> None:
    checks = CHECKS + ([negative_data_rejection] if mode == NEGATIVE else [])

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        # When the negative case is about headers (a missing Authorization),
        # adding our session header would undo the very mutation under test.
        response = case.call(headers={} if negative_headers(case) else headers)
        assert response.status_code < 500, (op.path, response.status_code, response.text)
        case.validate_response(response, checks=checks)

    try:
        run()
    except Unsatisfiable:
        # An operation with nothing to get wrong has no negative examples.
        assert mode == NEGATIVE and (op.method.upper(), op.path) in NO_INPUT, op.path


def test_no_input_gives_a_server_error(api_schema, fuzz_server) -> None:
    """Every operation, bounded examples each; also checks responses against the document."""
    _, token = fuzz_server
    ops = operations(api_schema)
    assert len(ops) >= 19
    for op, mode in itertools.product(ops, MODES):
        fuzz(op, mode, {"Authorization": f"Bearer {token}"})


def test_server_log_has_no_internal_error(fuzz_server: tuple[ServerProcess, str]) -> None:
    server, _ = fuzz_server
    log = server.log_path.read_text()
    assert "internal error" not in log and " -> 5" not in log
    # The fuzzer really ran: hundreds of requests across the routes.
    assert log.count("accord.server.http") > 400
