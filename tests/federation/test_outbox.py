"""The outbound queue with a fake clock and a fake peer: backoff, order, nothing lost.

A real store (SQLite in a temporary folder) and the real drain code; the peer
is an ``httpx.MockTransport`` that is down for a while, then back. The scenarios
run over both transports (``transport``): the peer reads Accord's FedDeliver, or is a
plain MIMI follower that reads the hub's notify (tests/faults/mimi_peer.py).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.federation import http_signatures as hs
from accord.federation import hub as hub_
from accord.federation import outbox
from accord.federation.outbox_policy import Backoff
from accord.federation.provider_key import ProviderKey
from accord.federation.service import Federation, FederationConfig
from accord.server.state import Provider, ServerConfig
from accord.storage import CommitChange, DeviceRecord, NewMessage, open_store
from accord.storage.records import AddedLeaf
from accord.wire import b64e, decode, encode
from accord.wire import federation as fw
from tests.faults import mimi_peer
from tests.harness import application_post, sealed_body

BETA = "http://127.0.0.1:9"  # never contacted: the transport is a mock


class FakeBeta:
    def __init__(self, transport: str = "accord") -> None:
        self.key = ProviderKey.generate()
        self.mimi = transport == "mimi"
        self.up = False
        self.attempts = 0
        self.received: list[fw.FedItem] = []
        self.kinds: list[str] = []  # of what it accepted, in order
        self.bodies: list[bytes] = []
        self.user_agents: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.user_agents.add(request.headers.get("user-agent", ""))
        if request.url.path == "/.well-known/accord":
            doc = fw.WellKnown(domain="beta.test", api_base=BETA, signing_key=self.key.public)
            return httpx.Response(200, json=encode(doc))
        if request.url.path == "/.well-known/mimi-protocol-directory":
            if self.mimi:  # a plain MIMI follower: the hub's notify
                return httpx.Response(200, content=mimi_peer.directory(BETA))
            return httpx.Response(404)  # an Accord peer without MIMI: Accord's routes
        self.attempts += 1
        if not self.up:
            return httpx.Response(503, json={"error": "down", "message": "down"})
        if self.mimi:
            assert mimi_peer.is_notify(request.url.path), request.url.path
            for kind, body in mimi_peer.notified(request.content):
                self.kinds.append(kind)
                self.bodies.append(body)
            return httpx.Response(201)
        batch = json.loads(request.content)
        self.received += [fw.FedItem(**{**i, "body": b"", "group_id": b""})
                          for i in batch["items"]]
        self.kinds += [i["kind"] for i in batch["items"]]
        self.bodies += [sealed_body(decode(fw.FedItem, i).body) for i in batch["items"]]
        return httpx.Response(200, json={"accepted": len(batch["items"]), "duplicates": 0})


@pytest.fixture
async def hub(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    transport = getattr(request, "param", "accord")
    store = await open_store(tmp_path)
    # "accord": Accord's own deliver route (--accord-transport), its fake peer reads
    # FedDeliver; "mimi": the default transport, to a plain MIMI follower
    provider = Provider(ServerConfig(domain="alpha.test", data_dir=tmp_path,
                                     mimi_transport=transport == "mimi"), store)
    beta = FakeBeta(transport)
    config = FederationConfig("alpha.test", {"beta.test": BETA},
                              backoff=Backoff(base_ms=1000, factor=2.0, cap_ms=8000, jitter=0))
    fed = Federation(provider, ProviderKey.generate(), config, httpx.MockTransport(beta.handle))
    provider.federation = fed
    try:
        yield fed, beta
    finally:
        await fed.close()
        await store.close()


async def _group_with_remote_member(fed: Federation, now: int, peer: str = "beta.test"
                                    ) -> tuple[bytes, Ed25519PrivateKey]:
    """A group of alice (here, a fresh account each time) and bob@``peer``."""
    store = fed.provider.store
    me = DeviceRecord(b64e(secrets.token_bytes(16)), f"alice{secrets.token_hex(3)}@alpha.test",
                      secrets.token_bytes(32), now)
    await store.create_account(me)
    gid, posting = secrets.token_bytes(16), Ed25519PrivateKey.generate()
    await store.create_group(gid, "alpha.test", me.device_id, b"P" * 32, now, b"state")
    remote = b64e(secrets.token_bytes(16))
    await store.fed_bind_confirmed([(f"bob@{peer}", remote)], "alpha.test")
    change = CommitChange(gid, 0, me.device_id, (remote,), (),
                          posting.public_key().public_bytes_raw())
    commit = NewMessage(hub_.new_msg_id(), "commit", gid, 0, me.device_id, b"c", now)
    await store.hub_commit(change, commit, None, None, lambda *a: b"{}", "alpha.test",
                           lambda group, accepted, state: (
                               {remote: AddedLeaf(1, f"bob@{peer}")}, state))
    return gid, posting


async def _post(fed: Federation, gid: bytes, posting: Ed25519PrivateKey, text: bytes,
                now: int) -> None:
    post = application_post(posting, gid, 1, text)
    await hub_.accept_post(fed, hub_.Origin(hub_.DEVICE), gid, post, now)


@pytest.mark.parametrize("hub", mimi_peer.TRANSPORTS, indirect=True)
async def test_backoff_then_everything_in_order_once_the_peer_is_back(hub) -> None:  # type: ignore[no-untyped-def]
    fed, beta = hub
    now = 1_000_000
    gid, posting = await _group_with_remote_member(fed, now)
    for i in range(5):
        await _post(fed, gid, posting, f"m{i}".encode(), now)
    assert await fed.provider.store.fed_outbox_size() == {"beta.test": 5}

    # Down: each failure doubles the wait (1 s, 2 s, 4 s, then the 8 s cap).
    schedule = [(now, 1), (now + 999, 1), (now + 1000, 2), (now + 2999, 2), (now + 3000, 3),
                (now + 6999, 3), (now + 7000, 4), (now + 14_999, 4), (now + 15_000, 5)]
    for t, attempts in schedule:
        assert await outbox.drain_once(fed, t) == 0
        assert beta.attempts == attempts, t
    # Back: the next due round delivers all five, in order, and the queue is empty.
    beta.up = True
    assert await outbox.drain_once(fed, now + 22_999) == 0  # still backing off
    assert await outbox.drain_once(fed, now + 23_000) == 5
    assert beta.kinds == ["application"] * 5
    assert beta.bodies == [f"m{i}".encode() for i in range(5)]  # in order, each once
    assert all(i.sender is None and i.sender_account is None for i in beta.received)  # T11
    assert await fed.provider.store.fed_outbox_size() == {}
    assert await outbox.drain_once(fed, now + 23_001) == 0
    assert beta.user_agents == {""}  # T15: no User-Agent at all


async def test_T15_outbound_requests_name_no_software_and_are_signed(hub) -> None:  # type: ignore[no-untyped-def]
    fed, beta = hub
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return beta.handle(request)

    fed.http._transport = httpx.MockTransport(record)  # noqa: SLF001 - test seam
    beta.up = True
    await fed.client.post("beta.test", "/federation/v1/deliver", fw.FedDeliver(items=[]),
                          fw.FedDeliverResponse, 1_000_000)
    for request in seen:
        assert "user-agent" not in request.headers
        text = " ".join(f"{k}: {v}" for k, v in request.headers.items()).lower()
        for word in ("httpx", "python", "uvicorn", "starlette", "0.1.0"):
            assert word not in text, (word, text)
    signed = seen[-1]
    claim = hs.parse_signature(signed.headers)
    assert claim.keyid == "alpha.test"
    digest = hs.check_digest(signed.headers, signed.content)
    hs.verify_request(claim, fed.key.public, method="POST", authority=signed.url.netloc.decode(),
                      path=signed.url.path, digest=digest)


def test_a_batch_stays_under_the_peers_body_limit() -> None:
    from accord.storage.records import OutboxBatch

    big = OutboxBatch("beta.test", 0, [(i, b"x" * 200_000) for i in range(5)])
    assert [i for i, _ in outbox._within_body_limit(big).items] == [0, 1]  # noqa: SLF001
    huge = OutboxBatch("beta.test", 0, [(7, b"x" * 600_000), (8, b"y")])
    assert [i for i, _ in outbox._within_body_limit(huge).items] == [7]  # noqa: SLF001
    small = OutboxBatch("beta.test", 0, [(i, b"z" * 100) for i in range(100)])
    assert len(outbox._within_body_limit(small).items) == 100  # noqa: SLF001


@pytest.mark.parametrize("transport", mimi_peer.TRANSPORTS)
async def test_a_restart_during_an_outage_loses_nothing(tmp_path: Path, transport: str) -> None:
    """The hub accepts while its peer is down, then stops (store closed) and starts
    again: the new process, on the same store, delivers all it owed, in order, once."""
    beta = FakeBeta(transport)
    config = FederationConfig("alpha.test", {"beta.test": BETA},
                              backoff=Backoff(base_ms=1000, factor=2.0, cap_ms=8000, jitter=0))

    async def start() -> Federation:
        provider = Provider(ServerConfig(domain="alpha.test", data_dir=tmp_path,
                                         mimi_transport=transport == "mimi"),
                            await open_store(tmp_path))
        fed = Federation(provider, ProviderKey.generate(), config,
                         httpx.MockTransport(beta.handle))
        provider.federation = fed
        return fed

    now = 1_000_000
    fed = await start()
    gid, posting = await _group_with_remote_member(fed, now)
    for i in range(3):
        await _post(fed, gid, posting, f"m{i}".encode(), now)
    assert await outbox.drain_once(fed, now) == 0  # down
    await fed.close()
    await fed.provider.store.close()

    fed = await start()
    try:
        assert await fed.provider.store.fed_outbox_size() == {"beta.test": 3}
        beta.up = True
        assert await outbox.drain_once(fed, now + 999) == 0  # the backoff survived
        assert await outbox.drain_once(fed, now + 1000) == 3
        assert beta.bodies == [b"m0", b"m1", b"m2"]
        assert await fed.provider.store.fed_outbox_size() == {}
    finally:
        await fed.close()
        await fed.provider.store.close()
