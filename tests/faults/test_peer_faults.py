"""A federation peer that answers slowly, with garbage, or closes the connection in the
middle of its answer. Over a real loopback socket, with the real drain code and a fake
clock for the backoff: each fault is a PeerUnavailable, the outbound queue keeps every
item, tries again only when its backoff has passed, and once the peer behaves delivers
every item once, in order, and nothing more. Each scenario runs over both transports
(``transport``): the peer reads Accord's deliver, or is a plain MIMI follower that
reads the hub's notify and accepts with a 201 (tests/faults/mimi_peer.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

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

BACKOFF = Backoff(base_ms=1000, factor=2.0, cap_ms=8000, jitter=0)
TIMEOUT_S = 0.3  # the sender's patience with a slow peer (real time, loopback only)


class MisbehavingPeer:
    """beta.test over HTTP/1.1 on a loopback socket; ``fault`` says how its next
    deliver (or notify) answer goes wrong (None: it answers properly and keeps the
    items); ``refuse``: a body it refuses with a 400 whenever a request carries it."""

    def __init__(self, transport: str = "accord") -> None:
        self.key = ProviderKey.generate()
        self.mimi = transport == "mimi"
        self.fault: str | None = None
        self.refuse: bytes | None = None
        self.attempts = 0
        self.delivered: list[str] = []  # msg ids, in the order they were accepted
        self.bodies: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.url = ""
        self.released = asyncio.Event()  # a "slow" answer waits for this: the test's end

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        self.released.set()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                       if k.strip().lower() == "content-length"), 0)
        body = await reader.readexactly(length)
        if path == "/.well-known/accord":
            doc = fw.WellKnown(domain="beta.test", api_base=self.url, signing_key=self.key.public)
            return await self._answer(writer, 200, json.dumps(encode(doc)).encode())
        if path == "/.well-known/mimi-protocol-directory":
            if self.mimi:  # a plain MIMI follower: the hub's notify
                return await self._answer(writer, 200, mimi_peer.directory(self.url))
            return await self._answer(writer, 404, b"{}")  # an Accord peer without MIMI
        assert mimi_peer.is_notify(path) == self.mimi, path
        self.attempts += 1
        if self.fault == "slow":
            await self.released.wait()  # no answer until the test ends: past any timeout
            return False
        if self.fault == "garbage":
            return await self._answer(writer, 200, b"\x00\xffnot json at all")
        if self.fault == "wrong_shape":  # JSON, but not a FedDeliverResponse
            return await self._answer(writer, 200, b'{"ok": true}')
        if self.fault == "5xx":
            return await self._answer(writer, 503, b'{"error": "down", "message": "down"}')
        if self.fault == "other_2xx":  # neither deliver's 200 with counts nor notify's 201
            return await self._answer(writer, 202, b"")
        if self.fault == "garbage_4xx":  # a refusal we cannot read: not a refusal
            return await self._answer(writer, 400, b"\x00\xff<html>")
        if self.fault == "clock":  # our clock is hours off theirs: the signature is stale
            return await self._answer(writer, 401, b'{"error": "auth_error", "message": '
                                      b'"signature created outside the accepted time window"}')
        if self.fault == "cut":  # headers promise 200 bytes; 10 come, then the socket closes
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 200\r\n\r\n{\"accepted")
            await writer.drain()
            return False
        if self.mimi:  # the follower files each FanoutMessage once (by its bytes)
            got = [(body.hex(), body) for _, body in mimi_peer.notified(body)]
        else:
            got = [(i.msg_id, sealed_body(i.body))
                   for i in (decode(fw.FedItem, i) for i in json.loads(body)["items"])]
        if self.refuse is not None and any(b == self.refuse for _, b in got):
            return await self._answer(writer, 400, b'{"error": "validation_error", '
                                      b'"message": "refused"}')
        fresh = [(key, b) for key, b in got if key not in self.delivered]
        self.delivered += [key for key, _ in fresh]
        self.bodies += [b for _, b in fresh]
        if self.mimi:
            return await self._answer(writer, 201, b"")
        answer = {"accepted": len(fresh), "duplicates": len(got) - len(fresh)}
        return await self._answer(writer, 200, json.dumps(answer).encode())

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes) -> bool:
        writer.write(f"HTTP/1.1 {status} -\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        return True


@pytest.fixture(params=mimi_peer.TRANSPORTS)
async def sender(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> AsyncIterator[tuple[Federation, MisbehavingPeer]]:
    beta = MisbehavingPeer(request.param)
    await beta.start()
    store = await open_store(tmp_path)
    # "accord": Accord's earlier deliver route (--accord-transport); "mimi": notify
    provider = Provider(ServerConfig(domain="alpha.test", data_dir=tmp_path,
                                     mimi_transport=beta.mimi), store)
    config = FederationConfig("alpha.test", {"beta.test": beta.url}, backoff=BACKOFF)
    fed = Federation(provider, ProviderKey.generate(), config)  # a real HTTP client
    fed.http.timeout = httpx.Timeout(TIMEOUT_S)
    provider.federation = fed
    try:
        yield fed, beta
    finally:
        await fed.close()
        await store.close()
        await beta.close()


@pytest.mark.parametrize("fault", ["slow", "5xx", "garbage", "wrong_shape", "other_2xx",
                                   "garbage_4xx", "cut", "clock"])
async def test_a_misbehaving_peer_loses_and_duplicates_nothing(
        sender: tuple[Federation, MisbehavingPeer], fault: str) -> None:
    fed, beta = sender
    now = 1_000_000
    gid, posting = await _group_with_remote_member(fed, now)
    for i in range(4):
        await _post(fed, gid, posting, f"m{i}".encode(), now)
    store = fed.provider.store
    assert await store.fed_outbox_size() == {"beta.test": 4}

    beta.fault = fault
    # Each round fails; the items stay, and the next try waits 1 s, 2 s, 4 s.
    for t, attempts in [(now, 1), (now + 999, 1), (now + 1000, 2), (now + 2999, 2),
                        (now + 3000, 3)]:
        assert await outbox.drain_once(fed, t) == 0, t
        assert beta.attempts == attempts, t
        assert await store.fed_outbox_size() == {"beta.test": 4}, f"an item was lost at {t}"
    assert beta.delivered == []

    beta.fault = None  # the peer behaves again
    assert await outbox.drain_once(fed, now + 6999) == 0  # still backing off
    assert await outbox.drain_once(fed, now + 7000) == 4
    assert beta.bodies == [b"m0", b"m1", b"m2", b"m3"]  # each once, in order
    assert await store.fed_outbox_size() == {}
    attempts = beta.attempts
    assert await outbox.drain_once(fed, now + 60_000) == 0
    assert beta.attempts == attempts, "an item was sent again after the peer took it"


async def test_a_refusal_drops_only_the_refused_item(
        sender: tuple[Federation, MisbehavingPeer]) -> None:
    """A 4xx the peer means (a typed error) drops the one item it refuses alone; the
    items before and after it are delivered, in order, and none is sent again."""
    fed, beta = sender
    now = 1_000_000
    gid, posting = await _group_with_remote_member(fed, now)
    for i in range(4):
        await _post(fed, gid, posting, f"m{i}".encode(), now)
    beta.refuse = b"m2"
    assert await outbox.drain_once(fed, now) == 3
    assert beta.bodies == [b"m0", b"m1", b"m3"]
    assert await fed.provider.store.fed_outbox_size() == {}
    attempts = beta.attempts
    assert await outbox.drain_once(fed, now + 60_000) == 0
    assert beta.attempts == attempts
