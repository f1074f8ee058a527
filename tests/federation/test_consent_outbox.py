"""MIMI consent messages (5.7) go through the durable outbound queue (issue 22, T14).

A real store (SQLite in a temporary folder), the real consent and queue code, a fake
peer (``httpx.MockTransport``) that is down for a while, and a "crash": the store is
closed and opened again by a new Federation, as a restarted process would. What the
provider answered its user for (a request asked, cancelled, a grant, a revoke) reaches
the peer once it is back: each message is queued in the transaction of the state it
announces, never sent inline.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from accord.errors import ConsentRequested
from accord.federation import consent_out, outbox
from accord.federation.outbox_policy import Backoff
from accord.federation.provider_key import ProviderKey
from accord.federation.service import Federation, FederationConfig
from accord.server.state import Provider, ServerConfig
from accord.storage import DeviceRecord, SqlStore, open_store
from accord.storage.consent_sql import CONSENT_REQUEST
from accord.wire import encode
from accord.wire import federation as fw
from accord.wire import mimi as w

BETA = "http://127.0.0.1:9"  # never contacted: the transport is a mock
ALICE, BOB = "alice@alpha.test", "bob@beta.test"
T0 = 1_700_000_000_000
Op = w.ConsentOperation


class FakeBeta:
    """beta.test's MIMI consent endpoints: 503 while down, 201 once up."""

    def __init__(self) -> None:
        self.key = ProviderKey.generate()
        self.up = False
        self.received: list[tuple[str, str, w.ConsentEntry]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/accord":
            doc = fw.WellKnown(domain="beta.test", api_base=BETA, signing_key=self.key.public)
            return httpx.Response(200, json=encode(doc))
        if request.url.path == "/.well-known/mimi-protocol-directory":
            return httpx.Response(404)  # an Accord peer: its MIMI endpoints under its API base
        if not self.up:
            return httpx.Response(503, json={"error": "down", "message": "down"})
        _, _, _, key, user = request.url.raw_path.decode().split("/", 4)
        self.received.append((key, unquote(user), w.ConsentEntry.from_bytes(request.content)))
        return httpx.Response(201)


class Alpha:
    """alpha.test's provider over one data folder; ``restart`` opens it anew."""

    def __init__(self, root: Path, beta: FakeBeta) -> None:
        self.root, self.beta = root, beta
        self.fed: Federation | None = None

    async def start(self) -> Federation:
        store = await open_store(self.root)
        provider = Provider(ServerConfig(domain="alpha.test", data_dir=self.root), store)
        config = FederationConfig("alpha.test", {"beta.test": BETA},
                                  backoff=Backoff(base_ms=1000, factor=2.0, cap_ms=8000,
                                                  jitter=0))
        self.fed = Federation(provider, ProviderKey.generate(), config,
                              httpx.MockTransport(self.beta.handle))
        provider.federation = self.fed
        return self.fed

    async def stop(self) -> None:
        if self.fed is not None:
            await self.fed.close()
            await self.fed.provider.store.close()
            self.fed = None

    async def restart(self) -> Federation:
        await self.stop()
        return await self.start()


@pytest.fixture
async def alpha(tmp_path: Path):  # type: ignore[no-untyped-def]
    a = Alpha(tmp_path, FakeBeta())
    fed = await a.start()
    await fed.provider.store.create_account(DeviceRecord("a1", ALICE, b"K" * 32, 0))
    try:
        yield a
    finally:
        await a.stop()


def _store(a: Alpha) -> SqlStore:
    assert a.fed is not None
    return a.fed.provider.store  # type: ignore[no-any-return]


async def test_T14_a_consent_request_survives_a_peer_outage_and_a_restart(alpha: Alpha) -> None:
    fed = alpha.fed
    assert fed is not None
    # beta is down: the device is answered all the same (the request is owed, queued)
    err = await consent_out.ask(fed, ALICE, BOB, "", T0)
    assert isinstance(err, ConsentRequested)
    assert await outbox.drain_once(fed, T0) == 0
    assert await _store(alpha).fed_outbox_size() == {"beta.test": 1}
    fed = await alpha.restart()  # the process dies with the request still owed
    alpha.beta.up = True
    assert await outbox.drain_once(fed, T0 + 999) == 0  # beta's backoff survived too
    assert await outbox.drain_once(fed, T0 + 1000) == 1
    [(key, user, entry)] = alpha.beta.received
    assert (key, user, entry.consent_operation) == ("requestConsent", w.mimi_user_uri(BOB),
                                                    Op.REQUEST)
    assert entry.requester_uri.text() == w.mimi_user_uri(ALICE)
    assert await _store(alpha).fed_outbox_size() == {}
    # a cancel is queued as well, only for a pending request
    alpha.beta.up = False
    await consent_out.cancel(fed, ALICE, BOB, "", T0 + 2000)
    fed = await alpha.restart()
    alpha.beta.up = True
    assert await outbox.drain_once(fed, T0 + 10_000) == 1
    assert [(k, e.consent_operation) for k, _, e in alpha.beta.received[1:]] == [
        ("requestConsent", Op.CANCEL)]


async def test_T14_a_grant_and_its_revoke_survive_a_restart(alpha: Alpha) -> None:
    """alice accepts bob's consent request: the grant is queued with the accept; her later
    block of bob (or of beta.test) queues the revoke with the block, once."""
    fed = alpha.fed
    assert fed is not None
    store = _store(alpha)
    gid = b"\x07" * 16
    await store.fed_consent_request(ALICE, gid, BOB, T0)
    await store.fed_accept_request(ALICE, gid, T0, consent_out.grant("alpha.test", ALICE, T0))
    assert await store.consent_sent.given(ALICE) == [BOB]
    await store.fed_set_block(ALICE, "beta.test", True, T0 + 1,  # bob's whole domain
                              consent_out.revoke(ALICE, T0 + 1))
    assert await store.consent_sent.given(ALICE) == []
    assert await store.fed_outbox_size() == {"beta.test": 2}
    await store.fed_set_block(ALICE, BOB, True, T0 + 2, consent_out.revoke(ALICE, T0 + 2))
    assert await store.fed_outbox_size() == {"beta.test": 2}  # revoked once
    fed = await alpha.restart()
    alpha.beta.up = True
    assert await outbox.drain_once(fed, T0 + 3) == 2
    assert [(k, u, e.consent_operation, e.target_uri.text())
            for k, u, e in alpha.beta.received] == [
        ("updateConsent", w.mimi_user_uri(BOB), Op.GRANT, w.mimi_user_uri(ALICE)),
        ("updateConsent", w.mimi_user_uri(BOB), Op.REVOKE, w.mimi_user_uri(ALICE))]


async def test_T14_no_grant_for_a_request_that_was_no_peers_consent_request(
    alpha: Alpha,
) -> None:
    """A Welcome's message request, or a consent request of a user of our own provider,
    owes no peer anything; a block of a user never granted queues nothing."""
    store = _store(alpha)
    owed = consent_out.grant("alpha.test", ALICE, T0)
    assert owed(BOB, "welcome-id") is None
    assert owed("carol@alpha.test", CONSENT_REQUEST) is None
    assert owed(BOB, CONSENT_REQUEST) is not None
    await store.fed_set_block(ALICE, BOB, True, T0, consent_out.revoke(ALICE, T0))
    assert await store.fed_outbox_size() == {}
