"""The outbound federation queue as a state machine (issue 24, hypothesis).

Posts for two peers, peers going down (5xx, garbage, a refused clock) and up, the fake
clock moving, and drain rounds in any order, against a model of the policy:

- a peer is tried only when its backoff has passed (``outbox_policy.Backoff``, no
  jitter here), and each failure in a row doubles the wait up to the cap;
- nothing is lost: every post is either still queued or delivered;
- nothing is delivered twice, and each peer receives its posts in the order they
  were accepted;
- once every peer is up, one round after the longest backoff delivers everything.

The machine runs twice: the peers read Accord's deliver (``TestOutboxMachine``) or are
plain MIMI followers that read the hub's notify (``TestOutboxMachineMimi``,
tests/faults/mimi_peer.py).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from accord.federation import outbox
from accord.federation.outbox_policy import Backoff
from accord.federation.provider_key import ProviderKey
from accord.federation.service import Federation, FederationConfig
from accord.server.state import Provider, ServerConfig
from accord.storage import open_store
from accord.wire import decode, encode
from accord.wire import federation as fw
from tests.faults import mimi_peer
from tests.federation.test_outbox import _group_with_remote_member, _post
from tests.harness import sealed_body

PEERS = ("beta.test", "gamma.test")
MODES = ("up", "down", "garbage", "clock")
BACKOFF = Backoff(base_ms=1000, factor=2.0, cap_ms=8000, jitter=0)
MAX_POSTS = 40


class Peers:
    """Both peers behind one mock transport; each keeps what it accepted, in order."""

    def __init__(self, mimi: bool = False) -> None:
        self.mimi = mimi
        self.keys = {p: ProviderKey.generate() for p in PEERS}
        self.mode = dict.fromkeys(PEERS, "up")
        self.attempts = dict.fromkeys(PEERS, 0)
        self.received: dict[str, list[bytes]] = {p: [] for p in PEERS}
        self.ids: dict[str, list[str]] = {p: [] for p in PEERS}

    def handle(self, request: httpx.Request) -> httpx.Response:
        peer, _, path = request.url.path.removeprefix("/").partition("/")
        if path == ".well-known/accord":
            doc = fw.WellKnown(domain=peer, api_base=_url(peer), signing_key=self.keys[peer].public)
            return httpx.Response(200, json=encode(doc))
        if path == ".well-known/mimi-protocol-directory":
            if self.mimi:  # a plain MIMI follower: the hub's notify
                return httpx.Response(200, content=mimi_peer.directory(_url(peer)))
            return httpx.Response(404)  # an Accord peer without MIMI
        assert mimi_peer.is_notify("/" + path) == self.mimi, path
        self.attempts[peer] += 1
        mode = self.mode[peer]
        if mode == "down":
            return httpx.Response(503, json={"error": "down", "message": "down"})
        if mode == "garbage":
            return httpx.Response(200, content=b'{"accepted": "many"}')
        if mode == "clock":
            return httpx.Response(401, json={"error": "auth_error", "message": "time window"})
        if self.mimi:
            bodies = [body for _, body in mimi_peer.notified(request.content)]
            self.ids[peer] += [b.hex() for b in bodies]
            self.received[peer] += bodies
            return httpx.Response(201)
        items = [decode(fw.FedItem, i) for i in json.loads(request.content)["items"]]
        self.ids[peer] += [i.msg_id for i in items]
        self.received[peer] += [sealed_body(i.body) for i in items]
        return httpx.Response(200, json={"accepted": len(items), "duplicates": 0})


def _url(peer: str) -> str:
    """The peer's base URL: loopback (plain HTTP is allowed there), never contacted,
    since the mock transport answers, telling the peers apart by the first segment."""
    return f"http://127.0.0.1:9/{peer}"


class OutboxMachine(RuleBasedStateMachine):
    MIMI = False  # the peers' transport: Accord's deliver, or MIMI notify

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp(prefix="outbox-sm-"))
        self.peers = Peers(self.MIMI)
        self.now = 1_000_000
        self.posted: dict[str, list[bytes]] = {p: [] for p in PEERS}
        self.failures = dict.fromkeys(PEERS, 0)
        self.next_at = dict.fromkeys(PEERS, 0)
        self.loop.run_until_complete(self._open())

    async def _open(self) -> None:
        self.store = await open_store(self.folder)
        # Accord's earlier deliver route (--accord-transport), or MIMI notify
        provider = Provider(ServerConfig(domain="alpha.test", data_dir=self.folder,
                                         mimi_transport=self.MIMI), self.store)
        config = FederationConfig("alpha.test", {p: _url(p) for p in PEERS}, backoff=BACKOFF)
        self.fed = Federation(provider, ProviderKey.generate(), config,
                              httpx.MockTransport(self.peers.handle))
        provider.federation = self.fed
        self.groups = {p: await _group_with_remote_member(self.fed, self.now, p) for p in PEERS}

    def teardown(self) -> None:
        async def close() -> None:
            await self.fed.close()
            await self.store.close()

        self.loop.run_until_complete(close())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    @rule(peer=st.sampled_from(PEERS))
    def post(self, peer: str) -> None:
        if sum(map(len, self.posted.values())) >= MAX_POSTS:
            return
        body = f"{peer}-{len(self.posted[peer])}".encode()
        gid, posting = self.groups[peer]
        self._run(_post(self.fed, gid, posting, body, self.now))
        self.posted[peer].append(body)

    @rule(peer=st.sampled_from(PEERS), mode=st.sampled_from(MODES))
    def peer_becomes(self, peer: str, mode: str) -> None:
        self.peers.mode[peer] = mode

    @rule(ms=st.sampled_from([1, 500, 999, 1000, 4000, 9000]))
    def time_passes(self, ms: int) -> None:
        self.now += ms

    @rule()
    def drain(self) -> None:
        before = dict(self.peers.attempts)
        owed = {p: len(self.posted[p]) - len(self.peers.received[p]) for p in PEERS}
        self._run(outbox.drain_once(self.fed, self.now))
        for peer in PEERS:
            due = owed[peer] > 0 and self.next_at[peer] <= self.now
            tried = self.peers.attempts[peer] - before[peer]
            assert tried == (1 if due else 0), (peer, tried, due, self.now, self.next_at[peer])
            if not due:
                continue
            if self.peers.mode[peer] == "up":
                self.failures[peer], self.next_at[peer] = 0, 0
            else:
                self.failures[peer] += 1
                self.next_at[peer] = BACKOFF.next_attempt(self.failures[peer], self.now)

    @invariant()
    def nothing_lost_twice_sent_or_reordered(self) -> None:
        sizes = self._run(self.store.fed_outbox_size())
        for peer in PEERS:
            got = self.peers.received[peer]
            assert got == self.posted[peer][:len(got)], "reordered, duplicated or invented"
            assert len(set(self.peers.ids[peer])) == len(self.peers.ids[peer])
            assert sizes.get(peer, 0) == len(self.posted[peer]) - len(got), "an item was lost"

    @rule()
    def heal_and_deliver_everything(self) -> None:
        for peer in PEERS:
            self.peers.mode[peer] = "up"
        self.now += BACKOFF.cap_ms
        self.drain()
        for peer in PEERS:
            assert self.peers.received[peer] == self.posted[peer]


class MimiOutboxMachine(OutboxMachine):
    MIMI = True


SETTINGS = settings(max_examples=25, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TestOutboxMachine = OutboxMachine.TestCase
TestOutboxMachine.settings = SETTINGS
TestOutboxMachineMimi = MimiOutboxMachine.TestCase
TestOutboxMachineMimi.settings = SETTINGS
