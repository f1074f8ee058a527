"""Several ``accord server`` nodes on one PostgreSQL and NATS, as deploy/ runs them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.harness import ServerProcess


def services_or_skip(*tools: str) -> tuple[str, str]:
    """The PostgreSQL admin URL and the NATS URL (and the named tools on PATH)."""
    admin, nats_url = os.environ.get("ACCORD_TEST_PG"), os.environ.get("ACCORD_TEST_NATS")
    if not admin or not nats_url or not all(shutil.which(t) for t in tools):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL, NATS or one of {tools} is missing")
        pytest.skip(f"needs ACCORD_TEST_PG, ACCORD_TEST_NATS and {tools}")
    return admin, nats_url


def nats_url_or_skip() -> str:
    """The NATS server of ``ACCORD_TEST_NATS``; without one the test is skipped (fails
    under CI=true)."""
    url = os.environ.get("ACCORD_TEST_NATS")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but ACCORD_TEST_NATS is unset: NATS is required")
        pytest.skip("ACCORD_TEST_NATS is unset")
    return url


def start_nodes(root: Path, database: str, bus: str, count: int,
                args_of: Callable[[int], tuple[str, ...]] = lambda i: (),
                rate_limit_scale: float = 1000,
                entry_of: Callable[[int], tuple[str, ...]] = lambda i: ServerProcess.entry
                ) -> list[ServerProcess]:
    """``count`` nodes, each with its own empty data folder (the provider's keys are
    in the database); ``args_of(i)`` gives node i's further ``accord server`` options
    and ``entry_of(i)`` what its process runs (a benchmark's profiler)."""
    nodes: list[ServerProcess] = []
    try:
        for i in range(count):
            node = ServerProcess(root / f"node{i}", database=database, bus=bus,
                                 rate_limit_scale=rate_limit_scale, extra_args=args_of(i),
                                 entry=entry_of(i))
            nodes.append(node.start())
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes
