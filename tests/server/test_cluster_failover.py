"""Three nodes on one PostgreSQL and NATS; one is killed (SIGKILL) in the middle of a burst
of posts. Its device reconnects to another node, and every device receives every
acknowledged message exactly once, all in the same (the hub's) order (issue 23)."""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
import time
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import ServerProcess, SimDevice, application_post, group_path
from tests.server.cluster import services_or_skip, start_nodes
from tests.server.test_durability import setup_group

from accord.wire import encode

BURST = 300  # bounded: at most this many posts
KILL_AFTER = 80  # acknowledged posts before the SIGKILL
CONCURRENCY = 6
TIME_LIMIT_S = 60.0


class Listener:
    """One device's push stream, moved to the next live node whenever its socket drops."""

    def __init__(self, device: SimDevice, nodes: list[ServerProcess], first: int) -> None:
        self.device, self.nodes, self.at = device, nodes, first
        self.cursor = 0
        self.received: list[str] = []  # application msg_ids, in the order pushed
        self.reconnects = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            node = self.nodes[self.at % len(self.nodes)]
            if node.proc is None or node.proc.poll() is not None:
                self.at += 1  # a dead node: the next one, as a balancer would
                continue
            try:
                await self._stream(node, stop)
            except (OSError, websockets.ConnectionClosed):
                self.reconnects += 1
                self.at += 1
                await asyncio.sleep(0.1)

    async def _stream(self, node: ServerProcess, stop: asyncio.Event) -> None:
        url = node.url.replace("http://", "ws://") + "/v1/ws"
        async with websockets.connect(url, max_size=2**24, open_timeout=5) as ws:
            await ws.send(json.dumps({"type": "auth", "token": self.device.token,
                                      "after": self.cursor}))
            while not stop.is_set():
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                for item in frame["items"]:
                    assert item["seq"] > self.cursor, "an item pushed twice"
                    self.cursor = item["seq"]
                    if item["kind"] == "application":
                        self.received.append(item["msg_id"])


async def burst(nodes: list[ServerProcess], victim: ServerProcess, gid: bytes,
                pk: Ed25519PrivateKey) -> set[str]:
    """Posts spread over the nodes; SIGKILL ``victim`` after KILL_AFTER acks."""
    acked: set[str] = set()
    todo = iter(range(BURST))
    deadline = time.monotonic() + TIME_LIMIT_S
    killed = asyncio.Event()

    async def worker(n: int) -> None:
        async with httpx.AsyncClient(timeout=5.0) as http:
            for i in todo:
                if time.monotonic() > deadline:
                    return
                live = [x for x in nodes if x.proc is not None and x.proc.poll() is None]
                node = live[(n + i) % len(live)]
                post = application_post(pk, gid, 1, secrets.token_bytes(200))
                try:
                    r = await http.post(node.url + group_path(gid, "/messages"),
                                        json=encode(post))
                except httpx.HTTPError:
                    continue  # no answer: not acknowledged, may or may not be stored
                if r.status_code == 201:
                    acked.add(r.json()["msg_id"])
                    if len(acked) >= KILL_AFTER and not killed.is_set():
                        killed.set()
                        victim.kill()

    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    assert killed.is_set(), "the burst ended before the kill"
    return acked


@pytest.mark.pg
@pytest.mark.nats
async def test_a_node_killed_mid_burst_loses_nothing_and_its_devices_move(
        tmp_path: Path) -> None:
    from tests.pg import create_database, drop_database

    admin, nats_url = services_or_skip()
    url, name = await create_database(admin)
    nodes: list[ServerProcess] = []
    stop = asyncio.Event()
    try:
        nodes = start_nodes(tmp_path, url, nats_url, 3)
        async with httpx.AsyncClient(base_url=nodes[0].url, timeout=10.0) as http:
            devices, gid, pk = await setup_group(http)  # alice, bob, bob's second device
        listeners = [Listener(d, nodes, i) for i, d in enumerate(devices)]  # one per node
        tasks = [asyncio.create_task(x.run(stop)) for x in listeners]
        await asyncio.sleep(1.0)  # each socket is open on its node
        acked = await burst(nodes, nodes[1], gid, pk)
        deadline = time.monotonic() + 30
        while any(not acked <= set(x.received) for x in listeners):
            assert time.monotonic() < deadline, [len(acked - set(x.received))
                                                 for x in listeners]
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # anything stored without an answer arrives too
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        for node in nodes:
            node.stop()
        await drop_database(admin, name)
    assert nodes[1].proc is not None and nodes[1].proc.returncode == -9
    assert listeners[1].reconnects >= 1  # the device on the killed node moved
    first = listeners[0].received
    for x in listeners:
        counts = collections.Counter(x.received)
        assert all(counts[i] == 1 for i in counts), "a message was delivered twice"
        assert acked <= set(x.received), "an acknowledged message was lost"
        assert x.received == first, "devices saw different orders"
