"""Two providers on loopback per test module: alpha.test (hub) and beta.test (follower)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.federation.providers import Provider
from tests.privacy.helpers import two_providers


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Provider]]:
    yield from two_providers(tmp_path_factory.mktemp("providers"))


@pytest.fixture(scope="module")
def accord_two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Provider]]:
    """The two on Accord's earlier transport (--accord-transport)."""
    yield from two_providers(tmp_path_factory.mktemp("providers"), mimi=False)
