"""Three providers (alpha.test, beta.test, gamma.test), each its own process, per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.federation.providers import Provider, federation


@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Provider]]:
    root: Path = tmp_path_factory.mktemp("kt")
    provs = federation(root, ["alpha.test", "beta.test", "gamma.test"])
    try:
        for p in provs:
            p.start()
        yield {p.domain.split(".")[0]: p for p in provs}
    finally:
        for p in provs:
            p.stop()
