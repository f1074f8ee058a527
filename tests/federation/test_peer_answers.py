"""A malicious peer's answers: huge, gzip bombs, deep JSON. The provider reads at most its
limit (decompressed) and turns each into PeerUnavailable, never an internal error."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from accord.errors import (
    AccordError,
    GroupMoved,
    NotFound,
    PeerUnavailable,
    RateLimited,
    ValidationError,
)
from accord.federation.discovery import Peer
from accord.federation.negotiation import Directories
from accord.federation.peer_client import MAX_RESPONSE, PeerClient, new_http_client
from accord.federation.provider_key import ProviderKey
from accord.wire import messages as m
from accord.wire.federation import FedDevicesRequest

CHUNK = 64 * 1024


class StaticResolver:
    async def resolve(self, domain: str, now: int) -> Peer:
        return Peer(domain, f"http://127.0.0.1:9/{domain}", b"\0" * 32, None)


class Endless(httpx.AsyncByteStream):
    """An answer that goes on for ever; counts what the client pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < 1024 * 1024 * 1024:
            self.pulled += CHUNK
            yield b" " * CHUNK


def client(handler: httpx.MockTransport) -> PeerClient:
    async def no_directory(domain: str, url: str) -> tuple[int, bytes]:
        return 404, b""

    return PeerClient("alpha.test", ProviderKey.generate(), StaticResolver(),  # type: ignore[arg-type]
                      new_http_client(handler), Directories(no_directory))


async def ask(peer: PeerClient) -> m.DeviceList:
    return await peer.post("evil.test", "/federation/v1/devices",
                           FedDevicesRequest(account="a@evil.test"), m.DeviceList, 0)


async def test_an_endless_answer_is_cut_at_the_limit() -> None:
    body = Endless()
    peer = client(httpx.MockTransport(lambda r: httpx.Response(200, stream=body)))
    with pytest.raises(PeerUnavailable, match="oversized"):
        await ask(peer)
    assert body.pulled <= MAX_RESPONSE + CHUNK


class Once(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.pulled += len(self.data)
        yield self.data


async def test_a_compressed_answer_is_refused_unread() -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024), compresslevel=9)  # ~64 KiB on the wire
    body = Once(bomb)
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers["accept-encoding"])
        return httpx.Response(200, stream=body, headers={"Content-Encoding": "gzip"})

    with pytest.raises(PeerUnavailable, match="compressed"):
        await ask(client(httpx.MockTransport(answer)))
    assert asked == ["identity"] and body.pulled == 0  # never read, never expanded


async def test_a_deep_json_answer_is_a_peer_failure() -> None:
    deep = Once(b"[" * 200_000)
    peer = client(httpx.MockTransport(lambda r: httpx.Response(200, stream=deep)))
    with pytest.raises(PeerUnavailable, match="malformed"):
        await ask(peer)


@pytest.mark.parametrize(("status", "code", "expected"), [
    (404, "not_found", NotFound),
    (413, "payload_too_large", ValidationError),
    (409, "group_moved", GroupMoved),
    (429, "rate_limited", RateLimited),
    (403, "auth_error", ValidationError),  # the peer's refusal, not the device's session
    (422, "no_such_code", ValidationError),
])
async def test_a_peers_refusal_is_the_error_its_code_names(status: int, code: str,
                                                          expected: type) -> None:
    body = {"error": code, "message": "no"}
    peer = client(httpx.MockTransport(lambda r: httpx.Response(
        status, json=body, headers={"retry-after": "7"})))
    with pytest.raises(AccordError) as raised:
        await ask(peer)
    assert type(raised.value) is expected
    if expected is RateLimited:
        assert raised.value.retry_after_ms == 7000  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_a_mimi_notify_answered_with_another_success_is_peer_unavailable(
        status: int) -> None:
    """notify (5.5), requestConsent and updateConsent answer 201: a peer answering any other
    success, with or without a body, is unavailable (the outbound queue keeps the items),
    never an internal error."""
    peer = client(httpx.MockTransport(lambda r: httpx.Response(status, content=b"\xff junk")))
    with pytest.raises(PeerUnavailable, match="answers 201"):
        await peer.post_mimi_created("evil.test", "notify", "mimi://evil.test/r/x", b"", 0,
                                     at="http://127.0.0.1:9/mimi/v1/notify/x")
