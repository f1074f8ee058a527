from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.tsmls_peer import Peer, peers


@pytest.fixture(scope="module")
def tsmls_pair() -> Iterator[list[Peer]]:
    """Two ts-mls peer processes on 127.0.0.1, stopped when the module's tests end."""
    with peers(2) as pair:
        yield pair


@pytest.fixture(scope="module")
def accord_pair() -> Iterator[list[Peer]]:
    """Two `accord interop serve` processes on 127.0.0.1."""
    from tests.interop.tsmls_peer import start_accord

    started: list[Peer] = []
    try:
        for _ in range(2):
            started.append(start_accord())
        yield started
    finally:
        for p in started:
            p.stop()


@pytest.fixture(scope="module")
def accord_tsmls() -> Iterator[list[Peer]]:
    """c0 = `accord interop serve --peer-quirk tsmls-external-pub`, c1 = the ts-mls peer."""
    from accord.interop.quirks import TSMLS_EXTERNAL_PUB
    from tests.interop.tsmls_peer import start_accord

    with peers(1) as (ts,):
        accord = start_accord(TSMLS_EXTERNAL_PUB)
        try:
            yield [accord, ts]
        finally:
            accord.stop()
