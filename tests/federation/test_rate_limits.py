"""T14: a flood from one peer provider is throttled, and so is one remote sender.

Providers run with small limits (``--rate-limit-scale 0.05``: per peer 10/s,
burst 20; per remote sender 0.25/s, burst 1). The flood is bounded (30 requests).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from accord.wire import dumps
from accord.wire import federation as fw
from tests.federation.providers import Provider, federation, signed_post

CLAIM = "/federation/v1/keypackages/claim"


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Provider]]:
    provs = federation(tmp_path_factory.mktemp("limits"),
                       ["alpha.test", "beta.test", "gamma.test"], scale=0.05)
    try:
        for p in provs:
            p.start()
        yield provs
    finally:
        for p in provs:
            p.stop()


def _claim(requester: str) -> bytes:
    return dumps(fw.FedClaimRequest(account="nobody@alpha.test", requester=requester))


async def test_T14_a_flood_from_one_peer_is_throttled_and_others_are_not(
    slow: list[Provider],
) -> None:
    alpha, beta, gamma = slow
    async with httpx.AsyncClient(timeout=20) as http:
        statuses = []
        for i in range(30):
            req = signed_post(alpha.url, CLAIM, _claim(f"u{i}@beta.test"), "beta.test",
                              beta.key().sign)
            statuses.append((await http.send(req)).status_code)
        assert set(statuses) <= {404, 429}
        assert statuses.count(429) >= 5, statuses
        assert statuses[:15] == [404] * 15
        # Another peer is not held back by beta's flood.
        for i in range(3):
            req = signed_post(alpha.url, CLAIM, _claim(f"v{i}@gamma.test"), "gamma.test",
                              gamma.key().sign)
            assert (await http.send(req)).status_code == 404


async def test_T14_one_remote_sender_is_throttled(slow: list[Provider]) -> None:
    alpha, _, gamma = slow
    async with httpx.AsyncClient(timeout=20) as http:
        statuses = []
        for _ in range(3):
            req = signed_post(alpha.url, CLAIM, _claim("spammer@gamma.test"), "gamma.test",
                              gamma.key().sign)
            statuses.append((await http.send(req)).status_code)
        assert statuses[0] == 404 and statuses[1:] == [429, 429], statuses
