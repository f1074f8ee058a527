from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.harness import PrivateNats, nats_server
from tests.server.cluster import nats_url_or_skip
from tests.timing import wait_until

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
    url = nats_url_or_skip()
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


@pytest.mark.nats
async def test_a_node_wakes_its_own_sockets_once_even_cut_from_nats() -> None:
    """Own news is delivered locally (its echo skipped); cut from NATS, news for the other
    nodes is dropped and counted rather than piled up in memory."""
    from tests.server.relay import TcpRelay

    url = nats_url_or_skip()
    host, port = url.removeprefix("nats://").split(":")
    relay = TcpRelay(host, int(port))
    subject = f"accord.test.{secrets.token_hex(4)}"
    node1, node2 = NatsBus(f"nats://127.0.0.1:{relay.port}", subject), NatsBus(url, subject)
    heard1: list[list[str]] = []
    heard2: asyncio.Queue[list[str]] = asyncio.Queue()

    async def on1(ids: list[str]) -> None:
        heard1.append(ids)

    async def until(check: Callable[[], bool]) -> None:
        await wait_until(check, 10.0)

    try:
        await node1.start(on1)
        await node2.start(heard2.put)
        await node2._nc.flush()
        await node1.publish(["a"])
        assert heard1 == [["a"]]  # at once, before any round trip
        assert await asyncio.wait_for(heard2.get(), 5) == ["a"]
        # A message without the node's mark, sent after "a" on the same connection,
        # arrives after the echo of "a": by then that echo has been skipped.
        await node1._nc.publish(subject, b'["sentinel"]')
        await until(lambda: len(heard1) == 2)
        assert heard1 == [["a"], ["sentinel"]]
        await asyncio.wait_for(heard2.get(), 5)
        relay.cut()
        await until(lambda: not node1.connected)
        await node1.publish(["c"])
        assert heard1[-1] == ["c"] and node1.dropped == 1
        relay.restore()
        await until(lambda: node1.connected)
        await node1.publish(["d"])
        assert await asyncio.wait_for(heard2.get(), 10) == ["d"]
        assert node1.dropped == 1
    finally:
        await node1.close()
        await node2.close()
        relay.close()


@pytest.mark.nats
async def test_a_node_that_reconnects_to_nats_wakes_every_socket_it_holds(
        tmp_path: Path) -> None:
    """Issue 23: news other nodes published while NATS was down (a restart) is lost, so a
    node that reconnects wakes every socket it holds (each re-reads its queue) instead of
    leaving them to the 30 s re-read."""
    if nats_server() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but nats-server is missing")
        pytest.skip("nats-server is missing")
    nats = PrivateNats(tmp_path / "nats").start()
    bus, notifier = NatsBus(nats.url), Notifier()
    try:
        await bus.start(notifier.on_news, notifier.wake_all)
        idle = notifier.watch("idle-device")
        nats.stop()
        # the client notices within a few pings
        await wait_until(lambda: not bus.connected, 5.0, "the bus noticing NATS gone")
        assert not idle.is_set()
        nats.start()
        await asyncio.wait_for(idle.wait(), timeout=10)  # woken by the reconnect alone
        assert bus.connected
    finally:
        await bus.close()
        nats.stop()
