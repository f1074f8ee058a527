"""A provider witnessing a peer's transparency head (issue 7 gossip), on both store engines.

The peer is an in-memory log behind an httpx mock transport; the witness is
the real ``accord.federation.gossip.witness`` over the real store.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import CryptoError
from accord.federation.gossip import witness
from accord.federation.provider_key import ProviderKey
from accord.mls.codec import encode
from accord.storage import transparency_sql as sql
from accord.transparency import (
    KeyDirectory,
    SignedTreeHead,
    decode_cosignature,
    decode_signed_head,
    verify_cosignature,
)
from accord.wire import codec
from accord.wire import transparency as wt

NOW = 1_800_000_000_000


class Peer:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.log = KeyDirectory("beta.test", b"b" * 32)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/transparency/head":
            sth = encode(SignedTreeHead, self.log.signed_head(self.key, NOW))
            return httpx.Response(200, json=codec.encode(wt.KtHead(sth)))
        old, new = int(request.url.params["old"]), int(request.url.params["new"])
        proof = list(self.log.consistency_proof(old, new))
        return httpx.Response(200, json=codec.encode(wt.KtConsistency(old, new, proof)))


def _fed(provider: Any, peer: Peer) -> Any:
    public = peer.key.public_key().public_bytes_raw()

    class Resolver:
        async def resolve(self, domain: str, now: int) -> Any:
            return SimpleNamespace(api_base="http://beta.test", signing_key=public)

    http = httpx.AsyncClient(transport=httpx.MockTransport(peer.handler))
    return SimpleNamespace(domain="alpha.test", key=ProviderKey.generate(), provider=provider,
                           resolver=Resolver(), http=http)


async def test_peer_heads_are_checked_cosigned_and_a_rewrite_is_refused(provider) -> None:
    peer = Peer()
    for i in range(3):
        peer.log.publish(f"u{i}@beta.test", [bytes([i]) * 32], NOW)
    fed = _fed(provider, peer)
    try:
        first = await witness(fed, "beta.test", NOW)
        sth = decode_signed_head(first.head)
        verify_cosignature(fed.key.public, "alpha.test", sth,
                           decode_cosignature(first.cosignature))
        peer.log.publish("u9@beta.test", [b"\x09" * 32], NOW)
        second = await witness(fed, "beta.test", NOW + 10_000)  # moved on by consistency
        assert decode_signed_head(second.head).head.size == 4

        rewritten = KeyDirectory("beta.test", b"b" * 32)
        for i in range(4):
            rewritten.publish(f"x{i}@beta.test", [bytes([i + 1]) * 32], NOW)
        peer.log = rewritten
        with pytest.raises(CryptoError):
            await witness(fed, "beta.test", NOW + 20_000)
        kept = await sql.latest_peer_head(provider.store.engine, "beta.test")
        assert kept is not None and kept.head == second.head
    finally:
        await fed.http.aclose()
