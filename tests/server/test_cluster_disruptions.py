"""Three provider nodes (separate processes) on one PostgreSQL and a private NATS,
disrupted in the middle of a bounded burst of posts (issue 23, docs/SCALING.md):
a node killed with SIGKILL, NATS restarted, PostgreSQL refusing connections.

Devices are spread over the nodes, each holding a WebSocket to its own node and
moving to another when it loses it. Whatever the disruption, every post that got a
2xx reaches every member device exactly once, every member sees its group's items in
one order (the hub's), each poster's posts in the order it sent them, and nothing is
left queued: every device's queue is acknowledged to empty and the outbound
federation queue is empty."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import (
    PrivateNats,
    ServerProcess,
    SimDevice,
    application_post,
    group_path,
    mls_commit,
    mls_key_package,
    mls_new_group,
    nats_server,
    posting_public,
    sealed_body,
)
from tests.pg import (
    PrivatePostgres,
    create_database,
    drop_database,
    pg_admin_url,
    pg_required,
    postgres_bin,
)
from tests.server.cluster import start_nodes
from tests.timing import wait_until

from accord.wire import b64d, encode
from accord.wire import messages as m

pytestmark = [pytest.mark.pg, pytest.mark.nats]

NODES = 3
GROUPS = 3  # of three members, one device on each node
POSTS_PER_POSTER = 24  # two posters per group: 144 posts in all
PACE_S = 0.05  # between one poster's posts: the burst outlasts each disruption
BURST_S = 25.0  # the bounds of the burst and of the wait for delivery
DELIVERY_S = 20.0


@dataclass
class Cluster:
    nodes: list[ServerProcess]
    nats: PrivateNats
    admin: str
    database: str  # its name

    def alive(self) -> list[ServerProcess]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    if pg_admin_url() is None or nats_server() is None:
        if pg_required():
            pytest.fail("CI=true but PostgreSQL or nats-server is missing")
        pytest.skip("needs ACCORD_TEST_PG and nats-server")
    async with _nodes_on(tmp_path, pg_admin_url() or "") as nodes:
        yield nodes


@pytest.fixture
async def private_pg() -> AsyncIterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, which it may restart."""
    if postgres_bin() is None or nats_server() is None:
        if pg_required():
            pytest.fail("CI=true but PostgreSQL's server programs or nats-server are missing")
        pytest.skip("needs PostgreSQL's initdb and pg_ctl, and nats-server")
    pg = PrivatePostgres()
    try:
        await asyncio.to_thread(pg.init)
        yield pg
    finally:
        await asyncio.to_thread(pg.remove)


@contextlib.asynccontextmanager
async def _nodes_on(tmp_path: Path, admin: str) -> AsyncIterator[Cluster]:
    nats = PrivateNats(tmp_path / "nats")
    url, name = await create_database(admin)
    nodes: list[ServerProcess] = []
    try:
        nats.start()
        nodes = await asyncio.to_thread(start_nodes, tmp_path, url, nats.url, NODES)
        yield Cluster(nodes, nats, admin, name)
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)
        nats.stop()
        await drop_database(admin, name)


@dataclass
class Member:
    device: SimDevice
    node: int  # the index of the node its WebSocket is on
    bodies: list[bytes] = field(default_factory=list)  # application items, as received
    cursor: int = 0
    reconnects: int = 0
    close_codes: list[int] = field(default_factory=list)  # of the node's close frames


@dataclass
class Group:
    group_id: bytes
    posting_key: Ed25519PrivateKey
    members: list[Member]


@dataclass
class Tally:
    acked: set[bytes] = field(default_factory=set)  # got a 2xx
    unknown: set[bytes] = field(default_factory=set)  # the connection broke: maybe stored
    refused: Counter[int] = field(default_factory=Counter)  # by status, then retried
    refusal_codes: set[str] = field(default_factory=set)
    committed_unanswered: int = 0  # refused with 503, then found stored by the retry
    barriers: set[bytes] = field(default_factory=set)  # the test's own posts (_barrier)


async def _make_groups(http: httpx.AsyncClient) -> list[Group]:
    groups = []
    for g in range(GROUPS):
        devices = [await SimDevice(http, f"u{g}n{i}@alpha.test").register()
                   for i in range(NODES)]
        gid, pk0, pk1 = secrets.token_bytes(32), Ed25519PrivateKey.generate(), \
            Ed25519PrivateKey.generate()
        owner = devices[0]
        new_group, state = mls_new_group(owner, gid, posting_public(pk0))
        await owner.call("POST", "/v1/groups", new_group, expect=201)
        commit, welcome, _ = mls_commit(state, add=[mls_key_package(d) for d in devices[1:]])
        await owner.call("POST", group_path(gid, "/commits"), m.CommitRequest(
            epoch=0, commit=commit, posting_key=posting_public(pk1),
            added=[d.device_id for d in devices[1:]], welcome=welcome), expect=201)
        # One member on each node, a different one per group.
        groups.append(Group(gid, pk1, [Member(d, (i + g) % NODES)
                                       for i, d in enumerate(devices)]))
    return groups


async def _listen(cluster: Cluster, member: Member, stop: asyncio.Event) -> None:
    """A device's WebSocket on its node; when it drops, the device moves on to a live
    node and resumes from its cursor, as a client behind a load balancer does."""
    while not stop.is_set():
        node = cluster.nodes[member.node]
        try:
            async with websockets.connect(node.url.replace("http", "ws") + "/v1/ws",
                                          open_timeout=3) as ws:
                await ws.send(json.dumps({"type": "auth", "token": member.device.token,
                                          "after": member.cursor}))
                while not stop.is_set():
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    except TimeoutError:
                        continue
                    items = frame.get("items", [])
                    for item in items:
                        member.cursor = max(member.cursor, int(item["seq"]))
                        if item["kind"] == "application":
                            member.bodies.append(sealed_body(b64d(item["body"])))
                    if items:
                        await ws.send(json.dumps({"type": "ack", "up_to": member.cursor}))
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is not None:
                member.close_codes.append(closed.rcvd.code)
        except (OSError, websockets.WebSocketException, TimeoutError):
            pass
        if stop.is_set():
            return
        member.reconnects += 1
        alive = cluster.alive()
        if node not in alive and alive:
            member.node = cluster.nodes.index(alive[member.reconnects % len(alive)])
        await asyncio.sleep(0.1)


async def _post_burst(cluster: Cluster, group: Group, poster: int, tally: Tally,
                      sent: list[bytes], deadline: float) -> None:
    """One poster's posts, one after the other, to its node (to a live one once its
    node is gone); ``sent`` is the order in which it sent them."""
    node = cluster.nodes[group.members[poster].node]
    async with httpx.AsyncClient(timeout=5.0) as http:
        for i in range(POSTS_PER_POSTER):
            assert time.monotonic() < deadline, "the burst overran its bound"
            body = b"%s/%d/%d" % (group.group_id[:4].hex().encode(), poster, i)
            post = application_post(group.posting_key, group.group_id, 1, body)
            sent.append(body)
            r: httpx.Response | None = None
            while True:  # a 503 is retried, as its Retry-After asks (sooner here)
                try:
                    r = await http.post(node.url + group_path(group.group_id, "/messages"),
                                        json=encode(post))
                except httpx.TransportError:
                    r = None
                    break
                if r.status_code != 503:
                    break
                tally.refused[r.status_code] += 1
                tally.refusal_codes.add(r.json().get("error", "?"))
                assert r.headers.get("retry-after"), r.headers
                assert time.monotonic() < deadline, "still refused at the end of the burst"
                await asyncio.sleep(0.1)
            if r is None:  # the node is gone: whether it stored the post is unknown
                tally.unknown.add(body)
                alive = cluster.alive()
                node = alive[(poster + i) % len(alive)]
                continue
            if r.status_code == 409 and tally.refused:
                # A 503 that met the COMMIT itself cannot know whether it landed; the
                # retry's replay refusal tells the client that the first one did.
                assert "replay" in r.text, r.text
                tally.committed_unanswered += 1
            else:
                assert r.status_code == 201, (r.status_code, r.text)
            tally.acked.add(body)
            await asyncio.sleep(PACE_S)


async def _burst(cluster: Cluster, disrupt: Callable[[list[Group]], Awaitable[None]]) -> tuple[
        list[Group], Tally]:
    async with httpx.AsyncClient(base_url=cluster.nodes[0].url, timeout=15.0) as http:
        groups = await _make_groups(http)
    stop = asyncio.Event()
    listeners = [asyncio.create_task(_listen(cluster, mem, stop))
                 for g in groups for mem in g.members]
    tally = Tally()
    orders: dict[tuple[int, int], list[bytes]] = {}
    try:
        await _barrier(cluster, groups, tally, b"ready")  # the WebSockets are up
        deadline = time.monotonic() + BURST_S
        posters = []
        for gi, g in enumerate(groups):
            for poster in (0, 1):
                orders[gi, poster] = []
                posters.append(asyncio.create_task(
                    _post_burst(cluster, g, poster, tally, orders[gi, poster], deadline)))
        total = len(posters) * POSTS_PER_POSTER
        await wait_until(lambda: len(tally.acked) >= total // 3, BURST_S,  # a third of the way
                         "the burst getting going")
        await disrupt(groups)
        await asyncio.gather(*posters)
        # everything stored, and any duplicate, is pushed before a later post
        await _barrier(cluster, groups, tally, b"done")
    finally:
        stop.set()
        await asyncio.gather(*listeners, return_exceptions=True)
    _check_exactly_once_in_order(groups, tally, orders)
    await _nothing_left(cluster, groups)
    return groups, tally


async def _barrier(cluster: Cluster, groups: list[Group], tally: Tally, tag: bytes) -> None:
    """One post to each group, waited for at every member: each device's queue is pushed
    in order, so its WebSocket is up and whatever was stored before has arrived (a
    readiness signal instead of a sleep)."""
    bodies = []
    async with httpx.AsyncClient(base_url=cluster.alive()[0].url, timeout=15.0) as http:
        for g in groups:
            body = g.group_id[:4].hex().encode() + b"/" + tag
            post = application_post(g.posting_key, g.group_id, 1, body)
            r = await http.post(group_path(g.group_id, "/messages"), json=encode(post))
            assert r.status_code == 201, r.text
            tally.barriers.add(body)
            bodies.append((g, body))
    await wait_until(lambda: all(body in mem.bodies for g, body in bodies for mem in g.members),
                     DELIVERY_S, f"the {tag.decode()} post at every member")


def _expected(group: Group, tally: Tally) -> set[bytes]:
    prefix = group.group_id[:4].hex().encode() + b"/"
    return {b for b in tally.acked | tally.barriers if b.startswith(prefix)}


def _check_exactly_once_in_order(groups: list[Group], tally: Tally,
                                 orders: dict[tuple[int, int], list[bytes]]) -> None:
    for gi, g in enumerate(groups):
        expected = _expected(g, tally)
        first = g.members[0].bodies
        for mem in g.members:
            copies = Counter(mem.bodies)
            assert max(copies.values()) == 1, f"delivered twice: {copies.most_common(2)}"
            assert expected <= set(mem.bodies)
            assert set(mem.bodies) <= expected | tally.unknown, "a refused post was stored"
            assert mem.bodies == first, "members saw the group in different orders"
        for poster in (0, 1):
            mine = [b for b in first if b in set(orders[gi, poster])]
            assert mine == [b for b in orders[gi, poster] if b in set(mine)], \
                "a poster's posts out of the order it sent them"


async def _nothing_left(cluster: Cluster, groups: list[Group]) -> None:
    """Every device acknowledged its queue to empty; the outbound queue is empty."""
    live = cluster.alive()[0]
    async with httpx.AsyncClient(base_url=live.url, timeout=10.0) as http:
        for mem in (mem for g in groups for mem in g.members):
            mem.device.http = http

            async def emptied(mem: Member = mem) -> bool:
                return not (await mem.device.fetch(after=0)).items

            await wait_until(emptied, 5.0, "every acknowledged item gone from the queue")
    db = await asyncpg.connect(_database_url(cluster))
    try:
        assert await db.fetchval("SELECT count(*) FROM fed_outbox") == 0
    finally:
        await db.close()


def _database_url(cluster: Cluster) -> str:
    return cluster.admin.rsplit("/", 1)[0] + "/" + cluster.database


async def test_a_node_killed_mid_burst_loses_and_doubles_nothing(cluster: Cluster) -> None:
    victim = cluster.nodes[1]

    async def kill(groups: list[Group]) -> None:
        victim.kill()  # SIGKILL: no shutdown code runs

    groups, tally = await _burst(cluster, kill)
    moved = [mem for g in groups for mem in g.members if mem.reconnects]
    assert len(moved) >= GROUPS, "the victim's devices did not move"
    assert all(mem.node != 1 for g in groups for mem in g.members)
    assert not tally.refused, tally.refused


async def test_nats_restarted_mid_burst_loses_and_doubles_nothing(cluster: Cluster) -> None:
    async def restart_nats(groups: list[Group]) -> None:
        cluster.nats.stop()
        await asyncio.sleep(1.0)
        cluster.nats.start()

    t0 = time.monotonic()
    _, tally = await _burst(cluster, restart_nats)
    assert not tally.refused and not tally.unknown, (tally.refused, tally.unknown)
    assert time.monotonic() - t0 < BURST_S  # pushes did not wait for the 30 s re-read


async def test_postgresql_refusing_connections_mid_burst_gives_503_then_recovers(
        cluster: Cluster) -> None:
    admin = await asyncpg.connect(cluster.admin)
    name = cluster.database
    closes: list[int] = []

    async def outage(groups: list[Group]) -> None:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = $1", name)
        # A WebSocket opened now is told to come back later, not that its token is bad.
        member = groups[0].members[0]
        url = cluster.nodes[member.node].url.replace("http", "ws") + "/v1/ws"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": member.device.token}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        closes.append(closed.value.rcvd.code if closed.value.rcvd else 0)
        await asyncio.sleep(1.5)
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    try:
        groups, tally = await _burst(cluster, outage)
    finally:
        with contextlib.suppress(Exception):
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert tally.refused and set(tally.refused) == {503}, tally.refused
    assert tally.refusal_codes == {"unavailable"}, tally.refusal_codes
    assert not tally.unknown, tally.unknown
    assert len(tally.acked) == 2 * GROUPS * POSTS_PER_POSTER  # each, once retried
    # WebSockets are told to come back later (1013), never that their token is bad.
    assert closes == [1013], closes
    codes = {code for g in groups for mem in g.members for code in mem.close_codes}
    assert codes <= {1013}, codes


async def test_postgresql_restarted_mid_burst_gives_503_then_recovers(
        private_pg: PrivatePostgres, tmp_path: Path) -> None:
    """The PostgreSQL server itself goes down (a crash: immediate shutdown, every
    connection cut) and comes back: requests meanwhile are 503 with Retry-After, pooled
    connections that died are replaced, and nothing acknowledged is lost or doubled."""
    async with _nodes_on(tmp_path, private_pg.admin_url) as cluster:
        async def restart(groups: list[Group]) -> None:
            await asyncio.to_thread(private_pg.stop, "immediate")
            await asyncio.sleep(1.5)
            await asyncio.to_thread(private_pg.start)

        groups, tally = await _burst(cluster, restart)
    assert tally.refused and set(tally.refused) == {503}, tally.refused
    assert tally.refusal_codes == {"unavailable"}, tally.refusal_codes
    assert not tally.unknown, tally.unknown
    assert len(tally.acked) == 2 * GROUPS * POSTS_PER_POSTER  # each, once retried
    codes = {code for g in groups for mem in g.members for code in mem.close_codes}
    assert codes <= {1013}, codes
