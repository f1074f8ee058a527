from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.tsmls_peer import Peer, peers


@pytest.fixture(scope="module")
def tsmls_pair() -> Iterator[list[Peer]]:
    """Two ts-mls peer processes on 127.0.0.1, stopped when the module's tests end."""
    with peers(2) as pair:
        yield pair
