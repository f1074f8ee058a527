"""Three nodes on one PostgreSQL and NATS, and a fault in the middle of a burst of posts:
a node killed (SIGKILL), or every node cut from PostgreSQL or from NATS for two seconds
(through a relay: the path fails, not the shared server, which other tests use). Devices
move to live nodes; requests during an outage get 503, never 500; every device receives
every acknowledged message exactly once, all in the same (the hub's) order (issue 23)."""

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
from tests.server.relay import TcpRelay
from tests.server.test_durability import setup_group
from tests.timing import wait_until

from accord.wire import encode

BURST = 300  # acknowledged posts wanted in all
MAX_POSTS = 400  # per worker: bounded in count (and by TIME_LIMIT_S)
FAULT_AFTER = 80  # acknowledged posts before the fault
OUTAGE_S = 2.0
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



class Fault:
    """What goes wrong after FAULT_AFTER acknowledged posts: a node is SIGKILLed, or the
    nodes are cut from PostgreSQL or from NATS (through a relay) for OUTAGE_S."""

    def __init__(self, kind: str, victim: ServerProcess, relay: TcpRelay | None) -> None:
        self.kind, self.victim, self.relay = kind, victim, relay
        self.started = asyncio.Event()
        self.healed_at: float | None = None

    async def run(self) -> None:
        if self.kind == "kill":
            await asyncio.to_thread(self.victim.kill)
        else:
            assert self.relay is not None
            await asyncio.to_thread(self.relay.cut)
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(self.relay.restore)
        self.healed_at = time.monotonic()

    def over(self) -> bool:
        """Posting goes on until the fault has been over for a moment."""
        return self.healed_at is not None and time.monotonic() > self.healed_at + 1.0


async def burst(nodes: list[ServerProcess], fault: Fault, gid: bytes,
                pk: Ed25519PrivateKey) -> tuple[set[str], collections.Counter[int]]:
    """Posts spread over the live nodes until BURST and the fault is over; returns the
    acknowledged msg_ids and the count of each status."""
    acked: set[str] = set()
    statuses: collections.Counter[int] = collections.Counter()
    deadline = time.monotonic() + TIME_LIMIT_S
    tasks: list[asyncio.Task[None]] = []

    async def worker(n: int) -> None:
        async with httpx.AsyncClient(timeout=5.0) as http:
            for i in range(MAX_POSTS):  # bounded in count and in time
                if time.monotonic() > deadline or (len(acked) >= BURST and fault.over()):
                    return
                live = [x for x in nodes if x.proc is not None and x.proc.poll() is None]
                node = live[(n + i) % len(live)]
                post = application_post(pk, gid, 1, secrets.token_bytes(200))
                try:
                    r = await http.post(node.url + group_path(gid, "/messages"),
                                        json=encode(post))
                except httpx.HTTPError:
                    continue  # no answer: not acknowledged, may or may not be stored
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    acked.add(r.json()["msg_id"])
                    if len(acked) >= FAULT_AFTER and not fault.started.is_set():
                        fault.started.set()
                        tasks.append(asyncio.create_task(fault.run()))
                elif r.status_code == 503:
                    await asyncio.sleep(0.05)  # as Retry-After asks, shortened

    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    await asyncio.gather(*tasks)
    assert fault.over(), "the burst ended before the fault was over"
    return acked, statuses


async def barrier(nodes: list[ServerProcess], gid: bytes, pk: Ed25519PrivateKey,
                  listeners: list[Listener]) -> None:
    """Post one message and wait until every device has it pushed. Each device's queue
    is pushed in order, so whatever was stored before it has arrived too: a readiness
    signal instead of a sleep."""
    live = [x for x in nodes if x.proc is not None and x.proc.poll() is None]
    async with httpx.AsyncClient(base_url=live[0].url, timeout=10.0) as http:
        r = await http.post(group_path(gid, "/messages"),
                            json=encode(application_post(pk, gid, 1, b"barrier")))
    assert r.status_code == 201, r.text
    msg_id = r.json()["msg_id"]
    await wait_until(lambda: all(msg_id in x.received for x in listeners), 30,
                     "a post pushed to every device")


@pytest.mark.pg
@pytest.mark.nats
@pytest.mark.parametrize("fault_kind", ["kill", "database", "bus"])
async def test_a_fault_mid_burst_loses_nothing_and_devices_move(
        tmp_path: Path, fault_kind: str) -> None:
    from tests.pg import create_database, drop_database

    admin, nats_url = services_or_skip()
    url, name = await create_database(admin)
    pg, nats = httpx.URL(url), httpx.URL(nats_url)
    relay = {"kill": None, "database": TcpRelay(pg.host, pg.port or 5432),
             "bus": TcpRelay(nats.host, nats.port or 4222)}[fault_kind]
    database = str(pg.copy_with(port=relay.port)) if fault_kind == "database" and relay \
        else url
    bus = f"nats://127.0.0.1:{relay.port}" if fault_kind == "bus" and relay else nats_url
    nodes: list[ServerProcess] = []
    stop = asyncio.Event()
    try:
        nodes = start_nodes(tmp_path, database, bus, 3)
        async with httpx.AsyncClient(base_url=nodes[0].url, timeout=10.0) as http:
            devices, gid, pk = await setup_group(http)  # alice, bob, bob's second device
        listeners = [Listener(d, nodes, i) for i, d in enumerate(devices)]  # one per node
        tasks = [asyncio.create_task(x.run(stop)) for x in listeners]
        await barrier(nodes, gid, pk, listeners)  # each socket is open on its node
        acked, statuses = await burst(nodes, Fault(fault_kind, nodes[1], relay), gid, pk)
        # everything stored, acknowledged or not, is pushed before a later post
        await barrier(nodes, gid, pk, listeners)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        for node in nodes:
            node.stop()
        if relay is not None:
            relay.close()
        await drop_database(admin, name)
    # A request during an outage is refused clearly (503), never with an internal error.
    assert set(statuses) <= {201, 503}, statuses
    if fault_kind == "database":
        assert statuses[503] > 0
    if fault_kind == "kill":
        assert nodes[1].proc is not None and nodes[1].proc.returncode == -9
        assert listeners[1].reconnects >= 1  # the device on the killed node moved
    first = listeners[0].received
    for x in listeners:
        counts = collections.Counter(x.received)
        assert all(counts[i] == 1 for i in counts), "a message was delivered twice"
        assert acked <= set(x.received), "an acknowledged message was lost"
        assert x.received == first, "devices saw different orders"
