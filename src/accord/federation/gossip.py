"""Head gossip between providers (issue 7): witness a peer's log and countersign its head.

A provider fetches a peer's signed tree head from the peer's public
transparency API (found through discovery), checks the signature against
the key the peer publishes, checks consistency with the last head of that
peer it witnessed (RFC 9162 2.1.4), countersigns it
(``accord.transparency.gossip.cosign``) and keeps head and cosignature in
the store. Its devices fetch the result (``GET
/v1/transparency/peers/{domain}/head``) and compare it with the head the
peer shows them directly: a peer showing different heads to different
audiences is caught (T06, T07).

A peer head that is not consistent with the one witnessed before is
evidence, not a head: it is refused (``CryptoError``), logged without any
key or head bytes, and the older head stays the witnessed one.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from accord.errors import CryptoError, DecodeError, NotFound, PeerUnavailable, ValidationError
from accord.federation.peer_client import read_bounded
from accord.mls.codec import encode as tls_encode
from accord.storage.transparency_sql import PeerHeadRow
from accord.transparency import (
    Cosignature,
    SignedTreeHead,
    cosign,
    decode_signed_head,
    detect_split_view,
    verify_signed_head,
)
from accord.wire import codec
from accord.wire import transparency as wt

log = logging.getLogger("accord.federation.gossip")
WITNESS_FRESH_MS = 2_000  # a witnessed head this young is served again (no refetch per request)
MAX_ANSWER = 256 * 1024


async def fetch(http: httpx.AsyncClient, domain: str, url: str, cls: type[Any]) -> Any:
    r = await read_bounded(http, domain, http.build_request("GET", url), MAX_ANSWER)
    if r.status_code != 200:
        raise PeerUnavailable(f"provider {domain} failed (HTTP {r.status_code})")
    try:
        return codec.parse(cls, r.content)
    except (DecodeError, ValidationError) as exc:
        raise PeerUnavailable(f"provider {domain} sent a malformed answer") from exc


def _check_update(peer_key: bytes, old: SignedTreeHead, new: SignedTreeHead,
                  proof: tuple[bytes, ...]) -> None:
    evidence = detect_split_view(peer_key, old, new, proof)
    if evidence is not None:
        raise CryptoError(f"peer head conflicts with the one witnessed before ({evidence.kind})")


async def witness(fed: Any, domain: str, now: int, min_size: int = 0) -> wt.KtWitnessed:
    """A fresh head of ``domain``, checked and countersigned by this provider.

    ``min_size`` is the size of the head the asking device already holds: a
    witnessed head smaller than that proves nothing about it, so the cached
    one is served only when it is at least that large."""
    if domain == fed.domain:
        raise ValidationError("a provider does not witness itself")
    last = await fed.provider.store.peer_heads.latest(domain)
    peer = await fed.resolver.resolve(domain, now)
    if last is not None and last.size >= min_size and 0 <= now - last.seen_at < WITNESS_FRESH_MS:
        return wt.KtWitnessed(domain, fed.domain, last.head, last.cosignature, peer.signing_key)
    answer = await fetch(fed.http, domain, peer.api_base + "/v1/transparency/head", wt.KtHead)
    sth = decode_signed_head(answer.head)
    verify_signed_head(sth, peer.signing_key, domain)
    if last is not None:
        old = decode_signed_head(last.head)
        proof: tuple[bytes, ...] = ()
        if old.head.size != sth.head.size and old.head.size > 0:
            lo, hi = sorted((old.head.size, sth.head.size))
            url = f"{peer.api_base}/v1/transparency/consistency?old={lo}&new={hi}"
            proof = tuple((await fetch(fed.http, domain, url, wt.KtConsistency)).proof)
        try:
            _check_update(peer.signing_key, old, sth, proof)
        except (CryptoError, ValidationError):
            log.warning("provider %s showed a head inconsistent with the last one witnessed",
                        domain)
            raise
    cosig = cosign(fed.key, fed.domain, sth, now)  # ProviderKey.sign is all cosign uses
    head_bytes = tls_encode(SignedTreeHead, sth)
    cosig_bytes = tls_encode(Cosignature, cosig)
    await fed.provider.store.peer_heads.put(PeerHeadRow(
        domain, sth.head.size, head_bytes, cosig_bytes, now))
    return wt.KtWitnessed(domain, fed.domain, head_bytes, cosig_bytes, peer.signing_key)


async def witness_all(fed: Any, now: int) -> int:
    """Witness every statically known peer once; how many succeeded (bounded by the map).
    A plain MIMI provider (``--mimi-plain``) has no Accord transparency to gossip."""
    done = 0
    if fed.plain:
        return done
    from accord.federation import mimi_ext

    for domain in sorted(fed.config.peers)[:1000]:
        try:
            if not await mimi_ext.offers_transparency(fed, domain, now):
                continue  # a plain MIMI peer has no log to witness
            await witness(fed, domain, now)
            done += 1
        except (PeerUnavailable, NotFound, CryptoError, ValidationError) as exc:
            log.info("witnessing %s failed: %s", domain, type(exc).__name__)
    return done


WITNESS_EVERY_S = 300.0


async def run(fed: Any, clock: Any, every_s: float = WITNESS_EVERY_S,
              rounds: int = 10**9) -> None:
    """The server's background task: wait, then witness every known peer (``rounds`` bounds it).

    Waiting first matters: peers starting with us are not up yet, and a failed
    discovery is cached as a failure for a moment (``discovery.NEGATIVE_TTL_MS``),
    which would refuse our users' first requests to those peers.
    """
    import asyncio

    for _ in range(rounds):
        await asyncio.sleep(every_s)
        await witness_all(fed, clock())
