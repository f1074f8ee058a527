"""T14: a flood from one peer provider is throttled, and so is one sender, remote or local.

Providers run with small limits (``--rate-limit-scale 0.05``: per peer 10/s,
burst 20; per remote sender 0.25/s, burst 1). The flood is bounded (30 requests).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import httpx
import pytest

from accord.wire import dumps
from accord.wire import federation as fw
from accord.wire import messages as m
from tests.engine import running
from tests.federation.groups import user
from tests.federation.providers import MlsDevice, Provider, signed_post

CLAIM = "/federation/v1/keypackages/claim"


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Provider]]:
    with running(tmp_path_factory.mktemp("limits"),
                 ["alpha.test", "beta.test", "gamma.test"], scale=0.05) as provs:
        yield list(provs.values())


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


@pytest.fixture(scope="module")
def one_slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """One provider at scale 0.1: per sender 0.5/s, burst 2 (registration burst 2)."""
    with running(tmp_path_factory.mktemp("limits1"), ["alpha.test"], scale=0.1) as provs:
        yield provs["alpha"]


async def test_T14_one_sender_of_the_same_provider_is_throttled(one_slow: Provider) -> None:
    """Issue 18: the per-sender invitation limit holds for a user of the inviter's own
    provider too (before, only other providers' users were limited)."""
    tag = os.urandom(3).hex()
    async with httpx.AsyncClient(base_url=one_slow.url, timeout=20) as http:
        mallory = await user(http, f"mallory{tag}@alpha.test")
        bob = MlsDevice(http, f"bob{tag}@alpha.test")
        await bob.register()
        # the per-pair claim budget is tiny at this scale: claims get the last resort
        await bob.call("POST", "/v1/keypackages", m.UploadKeyPackagesRequest(
            key_packages=[], last_resort=bob.new_key_package()), expect=200)
        statuses = []
        for _ in range(3):
            await mallory.create_group(secrets.token_bytes(16))
            claimed = await mallory.claim(bob.account)
            assert len(claimed) == 1
            statuses.append((await mallory.commit_add(claimed, expect=None)).status_code)
        assert statuses == [201, 201, 429], statuses
