from __future__ import annotations

import asyncio
import os
import secrets

import pytest

from accord.bus import InProcessBus, NatsBus, Notifier


async def test_in_process_bus_wakes_watchers() -> None:
    notifier = Notifier()
    bus = InProcessBus()
    await bus.start(notifier.on_news)
    ev_a, ev_b = notifier.watch("a"), notifier.watch("b")
    await bus.publish(["a"])
    assert ev_a.is_set() and not ev_b.is_set()
    notifier.unwatch("a", ev_a)
    await bus.close()


@pytest.mark.nats
async def test_nats_bus_carries_news_between_two_nodes() -> None:
    url = os.environ.get("ACCORD_TEST_NATS")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but ACCORD_TEST_NATS is unset: NATS is required")
        pytest.skip("ACCORD_TEST_NATS is unset")
    subject = f"accord.test.{secrets.token_hex(4)}"
    node1, node2 = NatsBus(url, subject), NatsBus(url, subject)
    heard: asyncio.Queue[list[str]] = asyncio.Queue()

    async def on1(ids: list[str]) -> None:
        return None

    await node1.start(on1)
    await node2.start(heard.put)
    await node2._nc.flush()
    await node1.publish(["dev-1", "dev-2"])
    got = await asyncio.wait_for(heard.get(), timeout=5)
    assert got == ["dev-1", "dev-2"]
    await node1.close()
    await node2.close()
