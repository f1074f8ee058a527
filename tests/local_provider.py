"""The ``server`` fixture: a real provider process on 127.0.0.1 per test module, always
stopped. The conftests of tests/e2e and tests/cli import it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.client.local_server import LocalServer
from tests.engine import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    folder: Path = tmp_path_factory.mktemp("provider")
    srv = start_server(folder / "data", "alpha.test", log_path=folder / "server.log")
    try:
        yield srv
    finally:
        srv.stop()
