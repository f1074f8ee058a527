"""Three providers (alpha.test, beta.test, gamma.test), each its own process, per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine import running
from tests.federation.providers import Provider


@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Provider]]:
    root: Path = tmp_path_factory.mktemp("kt")
    with running(root, ["alpha.test", "beta.test", "gamma.test"]) as provs:
        yield provs
