"""The per-peer transport rule and the directory cache (issue 22,
:mod:`accord.federation.negotiation`), without a network: time is an input, the fetch
a function; and the unsigned-request rule of ``Federation.authenticate_unsigned`` over
a mock peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner

from accord.cli.server_cmd import server
from accord.errors import AuthError, NotFound, PeerUnavailable, ValidationError
from accord.federation.negotiation import (
    DEFAULT_TTL_MS,
    FAILURE_TTL_MS,
    Directories,
    mimi_only,
    parse,
)
from accord.federation.peer_client import PeerClient, new_http_client
from accord.federation.provider_key import ProviderKey
from accord.federation.service import Federation, FederationConfig
from accord.server.state import Provider, ServerConfig
from accord.storage import open_store
from accord.wire import encode
from accord.wire.federation import WellKnown

BASE = "http://127.0.0.1:9"
MIMI = {"keyMaterial": BASE + "/mimi/v1/keyMaterial/{targetUser}",
        "notify": BASE + "/mimi/v1/notify/{roomId}"}
ACCORD = {**MIMI, "accord-hiddenSenders": BASE + "/federation/v1/posts"}


class Peer:
    """A peer's directory as the fetch sees it: (status, document), and the calls."""

    def __init__(self, status: int = 200, doc: dict[str, str] | None = None) -> None:
        self.status, self.doc = status, doc
        self.calls: list[str] = []
        self.paths: list[str] = []  # what a mock transport was asked

    async def fetch(self, domain: str, url: str) -> tuple[int, bytes]:
        self.calls.append(url)
        return self.status, orjson.dumps(self.doc) if self.doc is not None else b""


def directories(peer: Peer, ttl_ms: int = 1000) -> Directories:
    return Directories(peer.fetch, {"beta.test": BASE}, ttl_ms=ttl_ms)


async def test_the_rule_plain_peers_get_mimi_accord_peers_their_routes() -> None:
    plain, accord, none = Peer(doc=MIMI), Peer(doc=ACCORD), Peer(404)
    assert await mimi_only(directories(plain), False, "beta.test", 0)
    assert not await mimi_only(directories(accord), False, "beta.test", 0)
    assert not await mimi_only(directories(none), False, "beta.test", 0)  # no MIMI at all
    assert await mimi_only(directories(accord), True, "beta.test", 0)  # --mimi-transport


async def test_a_directory_is_cached_until_it_expires() -> None:
    peer = Peer(doc=MIMI)
    d = directories(peer, ttl_ms=1000)
    assert (await d.get("beta.test", 0)).plain
    await d.get("beta.test", 999)
    assert peer.calls == [BASE + "/.well-known/mimi-protocol-directory"]
    peer.doc = ACCORD  # the peer now offers Accord's extensions
    assert (await d.get("beta.test", 1000)).accord and len(peer.calls) == 2
    with pytest.raises(NotFound):
        await d.get("gamma.test", 0)  # not mapped, DNS discovery off
    assert len(peer.calls) == 2


async def test_an_unreadable_directory_is_unavailable_never_plain() -> None:
    """A failure is remembered for a short while (a peer that is down costs one
    timeout per interval, not one per request), then the directory is asked again."""
    for peer in (Peer(503), Peer(200, None), Peer(302)):
        d = directories(peer)
        with pytest.raises(PeerUnavailable):
            await d.get("beta.test", 0)
        with pytest.raises(PeerUnavailable):
            await d.get("beta.test", FAILURE_TTL_MS - 1)
        assert len(peer.calls) == 1
        peer.status, peer.doc = 200, MIMI  # back, and plain
        assert (await d.get("beta.test", FAILURE_TTL_MS)).plain
        assert len(peer.calls) == 2


def test_a_directory_sends_requests_only_to_its_own_origin() -> None:
    """A directory cannot point our requests (signed, over our client certificate) at
    a third party: every URL is at the origin the directory came from."""
    ok = parse("beta.test", BASE + "/.well-known/mimi-protocol-directory", orjson.dumps(MIMI))
    assert ok.url("keyMaterial", "mimi://beta.test/u/bob") == (
        BASE + "/mimi/v1/keyMaterial/mimi%3A%2F%2Fbeta.test%2Fu%2Fbob")
    for other in ("http://127.0.0.1:10", "https://127.0.0.1:9", "http://evil.test:9"):
        doc = {**MIMI, "notify": other + "/mimi/v1/notify/{roomId}"}
        with pytest.raises(Exception, match="origin"):
            parse("beta.test", BASE + "/.well-known/mimi-protocol-directory",
                  orjson.dumps(doc))
    with pytest.raises(PeerUnavailable):
        ok.url("groupInfo", "mimi://beta.test/r/AA")  # not listed


async def test_a_plain_provider_does_not_use_accords_peer_api() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(500)

    client = PeerClient("alpha.test", ProviderKey.generate(), None,  # type: ignore[arg-type]
                        new_http_client(httpx.MockTransport(handler)),
                        directories(Peer(doc=MIMI)), sign=False)
    with pytest.raises(ValidationError, match="plain MIMI"):
        await client.post("beta.test", "/federation/v1/deliver", {"items": []}, dict, 0)
    assert seen == []


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[tuple[Federation, Peer]]:
    store = await open_store(tmp_path)
    provider = Provider(ServerConfig(domain="alpha.test", data_dir=tmp_path), store)
    peer = Peer(doc=MIMI)

    def handler(request: httpx.Request) -> httpx.Response:
        peer.paths.append(request.url.path)
        if request.url.path == "/.well-known/accord":
            doc = WellKnown(domain="beta.test", api_base=BASE, signing_key=bytes(32))
            return httpx.Response(200, json=encode(doc))
        body = orjson.dumps(peer.doc) if peer.doc is not None else b""
        return httpx.Response(peer.status, content=body)

    federation = Federation(provider, ProviderKey.generate(),
                            FederationConfig("alpha.test", {"beta.test": BASE}),
                            httpx.MockTransport(handler))
    provider.federation = federation
    try:
        yield federation, peer
    finally:
        await federation.close()
        await store.close()


async def test_T01_only_a_plain_peer_goes_unsigned(fed: tuple[Federation, Peer]) -> None:
    """The caller checked the certificate; the peer must also be a plain MIMI peer now.
    A directory that lists Accord's extensions, or that cannot be read, or a peer with no
    directory (an Accord provider), keeps the signature requirement."""
    federation, peer = fed
    assert await federation.authenticate_unsigned("beta.test", "10.0.0.1", 0) == "beta.test"
    for i, (status, doc) in enumerate(((200, ACCORD), (503, None), (404, None)), 1):
        peer.status, peer.doc = status, doc
        later = i * 10 * DEFAULT_TTL_MS  # past what the directory cache remembers
        with pytest.raises(AuthError):
            await federation.authenticate_unsigned("beta.test", "10.0.0.1", later)
        assert len(peer.paths) == i + 1
    with pytest.raises(AuthError):
        await federation.authenticate_unsigned("alpha.test", "10.0.0.1", 0)  # ourselves


def test_a_plain_provider_needs_mutual_tls(tmp_path: Path) -> None:
    """--mimi-plain authenticates peers by their certificates alone: without --peer-ca it
    would take no peer at all, or worse, so it does not start."""
    result = CliRunner().invoke(server, ["--data", str(tmp_path / "data"), "--domain",
                                         "plain.test", "--port", "0", "--mimi-plain"])
    assert result.exit_code == 2 and "--mimi-plain" in result.output, result.output
    assert not (tmp_path / "data").exists()


async def test_nothing_of_accords_is_asked_of_a_plain_peer(fed: tuple[Federation, Peer]
                                                           ) -> None:
    """Device lists, blobs, reports and transparency all find a peer through its Accord
    document: for a plain MIMI peer it is not even fetched."""
    federation, peer = fed
    with pytest.raises(NotFound, match="plain MIMI"):
        await federation.resolver.resolve("beta.test", 0)
    assert peer.paths == ["/.well-known/mimi-protocol-directory"]


async def test_a_plain_provider_reads_no_accord_document(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    provider = Provider(ServerConfig(domain="alpha.test", data_dir=tmp_path, mimi_plain=True),
                        store)
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(404)

    federation = Federation(provider, ProviderKey.generate(),
                            FederationConfig("alpha.test", {"beta.test": BASE}),
                            httpx.MockTransport(handler))
    try:
        with pytest.raises(NotFound, match="plain MIMI"):
            await federation.resolver.resolve("beta.test", 0)
        assert paths == [] and await federation.mimi_to("beta.test", 0)
    finally:
        await federation.close()
        await store.close()


async def test_T01_a_peer_that_published_an_accord_key_must_still_sign(
    fed: tuple[Federation, Peer],
) -> None:
    """A peer seen with an Accord document keeps the signature requirement while that
    document is cached, even if its directory turns plain meanwhile (an attacker who
    answers one directory fetch for it gains nothing within the hour)."""
    federation, peer = fed
    federation.provider.clock = lambda: 0  # the Accord document is fetched at time 0 ...
    peer.doc = ACCORD
    half = DEFAULT_TTL_MS // 2
    await federation.resolver.resolve("beta.test", half)  # ... and cached until 1.5 h
    peer.doc = MIMI  # the directory now says plain
    with pytest.raises(AuthError, match="must be signed"):
        await federation.authenticate_unsigned("beta.test", "10.0.0.1", DEFAULT_TTL_MS + 1)
    later = half + DEFAULT_TTL_MS + 1  # the Accord document forgotten: plain it is
    assert await federation.authenticate_unsigned("beta.test", "10.0.0.1", later) == (
        "beta.test")
