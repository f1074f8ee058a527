"""Reliability: a follower down while its hub keeps accepting, and the hub restarted meanwhile.

Real processes, SIGKILL (no shutdown code runs). Everything the hub accepted
while the follower was down reaches the follower's device once it is back,
in order and once each. Timeouts are bounded; nothing sleeps for minutes
(the backoff itself is tested with a fake clock in test_outbox.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.federation.groups import alice_and_bob
from tests.federation.providers import Provider, federation

MESSAGES = 20


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Provider]]:
    alpha, beta = federation(tmp_path_factory.mktemp("outage"), ["alpha.test", "beta.test"])
    try:
        alpha.start()
        beta.start()
        yield alpha, beta
    finally:
        alpha.stop()
        beta.stop()


async def test_peer_outage_and_hub_restart_lose_nothing(
    pair: tuple[Provider, Provider],
) -> None:
    alpha, beta = pair
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as a_http, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as b_http:
        alice, bob, _ = await alice_and_bob(a_http, b_http, "")
        await alice.post(b"before the outage")
        assert bob.read((await bob.wait_items(1))[0].body) == b"before the outage"
        await bob.call("POST", "/v1/queue/ack", {"up_to": 10**6}, expect=200)

        beta.kill()
        texts = [f"while beta is down {i}".encode() for i in range(MESSAGES)]
        for i, text in enumerate(texts):
            await alice.post(text)
            if i == MESSAGES // 2:
                alpha.kill()  # the hub crashes with items still in its outbound queue
                alpha.start()
        beta.start()
        await bob.login()
        items = await bob.wait_items(MESSAGES, timeout_s=60)
        assert len(items) == MESSAGES  # once each
        assert [bob.read(i.body) for i in items] == texts  # in order
