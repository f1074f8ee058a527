"""NATS down: posts are still accepted and kept (the queue is in the database, the bus
only says "news"), devices catch up by fetching, and pushes resume once NATS is back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from accord.bus import NatsBus
from tests.faults.node import group_of_two, post, received, running_node
from tests.server.cluster import nats_url_or_skip
from tests.server.relay import TcpRelay
from tests.timing import wait_until

pytestmark = pytest.mark.nats


async def _until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    await wait_until(condition, timeout_s)


async def test_posts_are_kept_while_nats_is_down_and_pushes_resume(tmp_path: Path) -> None:
    url = nats_url_or_skip()
    target = httpx.URL(url)
    relay = TcpRelay(target.host, target.port or 4222)
    other_node = NatsBus(url)  # another node of the provider, with its own way to NATS
    heard: list[str] = []

    async def hear(ids: list[str]) -> None:
        heard.extend(ids)

    await other_node.start(hear)
    try:
        async with running_node(tmp_path, bus=f"nats://127.0.0.1:{relay.port}") as node:
            provider = node.app.state.provider
            group = await group_of_two(node.http)
            woken = provider.notifier.watch(group.bob.device_id)  # what bob's WebSocket waits on
            assert (await post(node.http, group, b"before")).status_code == 201
            await asyncio.wait_for(woken.wait(), 10)
            await _until(lambda: group.bob.device_id in heard)

            relay.cut()
            await _until(lambda: not provider.bus.connected)
            # A long outage: the NATS client's buffer of unsent news is full (2 MB by default).
            provider.bus._nc._max_pending_size = 1
            woken.clear()
            heard.clear()
            r = await post(node.http, group, b"while down")
            assert r.status_code == 201, r.text  # accepted and kept: the queue is the database
            assert await received(group.bob) == [b"before", b"while down"]  # caught up by sync
            # this node's own sockets are woken without NATS (by its news queue's task)
            await _until(woken.is_set, 5.0)
            assert group.bob.device_id not in heard  # the other nodes' sockets recheck later

            relay.restore()
            await _until(lambda: provider.bus.connected)
            assert (await post(node.http, group, b"after")).status_code == 201
            await _until(lambda: group.bob.device_id in heard)  # news reaches every node again
            assert await received(group.bob) == [b"before", b"while down", b"after"]
            assert provider.bus.errors >= 1  # the disconnection, counted for the metrics
    finally:
        await other_node.close()
        relay.close()
