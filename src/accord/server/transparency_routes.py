"""The key transparency HTTP API (issue 7): heads, lookups, consistency proofs, witnessed peer heads.

All public (no session): a lookup reveals only what a KeyPackage claim
reveals anyway (an account's device keys), and its proof carries no other
identity (``accord.transparency.entries``). A lookup of another provider's
account is relayed to that provider unchanged; the device verifies the
proof against that provider's head, so the relay adds no trust.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from accord.errors import NotFound
from accord.federation import gossip, mimi_ext
from accord.mls.codec import encode as tls_encode
from accord.server.routes import ACCOUNT, Call, Param, Spec, endpoint, int_query
from accord.server.transparency import TransparencyLog
from accord.transparency import LookupProof, SignedTreeHead
from accord.wire import transparency as wt
from accord.wire.accounts import domain_of

DOMAIN = Param("domain", "path", {"type": "string", "pattern": "^" + wt.DOMAIN_RE + "$"})
OLD = Param("old", "query", {"type": "integer", "minimum": 0, "maximum": 2**62})
NEW = Param("new", "query", {"type": "integer", "minimum": 0, "maximum": 2**62})
MIN_SIZE = Param("min_size", "query", {"type": "integer", "minimum": 0, "maximum": 2**62},
                 "serve a witnessed head at least this large (the size the device holds)")


def _log(c: Call) -> TransparencyLog:
    kt: TransparencyLog | None = getattr(c.provider, "transparency", None)
    if kt is None:
        raise NotFound("this provider runs no transparency log")
    return kt


def _fed(c: Call) -> Any:
    return c.provider.federation  # a running provider always federates (server.app)


async def _head(c: Call) -> wt.KtHead:
    sth = await _log(c).current_head(c.now)
    return wt.KtHead(tls_encode(SignedTreeHead, sth))


async def _lookup(c: Call) -> wt.KtLookup:
    account = str(c.request.path_params["account"]).lower()
    domain = domain_of(account)
    if domain != c.provider.config.domain:
        fed = _fed(c)
        await mimi_ext.require_transparency(fed, domain, c.now)  # a plain MIMI peer: none
        peer = await fed.resolver.resolve(domain, c.now)
        url = f"{peer.api_base}/v1/transparency/lookup/{account}"
        answer: wt.KtLookup = await gossip.fetch(fed.http, domain, url, wt.KtLookup)
        return answer
    sth, proof = await _log(c).lookup(account, c.now)
    return wt.KtLookup(account, tls_encode(SignedTreeHead, sth), tls_encode(LookupProof, proof))


async def _consistency(c: Call) -> wt.KtConsistency:
    old = int_query(c.request, "old", 0, 0, 2**62)
    new = int_query(c.request, "new", 0, 0, 2**62)
    proof = await _log(c).consistency(old, new)
    return wt.KtConsistency(old, new, list(proof))


async def _peer_consistency(c: Call) -> wt.KtConsistency:
    """A peer's consistency proof, relayed (the device checks it against signed heads)."""
    fed = _fed(c)
    domain = str(c.request.path_params["domain"])
    old = int_query(c.request, "old", 0, 0, 2**62)
    new = int_query(c.request, "new", 0, 0, 2**62)
    await mimi_ext.require_transparency(fed, domain, c.now)
    peer = await fed.resolver.resolve(domain, c.now)
    url = f"{peer.api_base}/v1/transparency/consistency?old={old}&new={new}"
    answer: wt.KtConsistency = await gossip.fetch(fed.http, domain, url, wt.KtConsistency)
    return answer


async def _peer_head(c: Call) -> wt.KtWitnessed:
    min_size = int_query(c.request, "min_size", 0, 0, 2**62)
    domain = str(c.request.path_params["domain"])
    await mimi_ext.require_transparency(_fed(c), domain, c.now)
    return await gossip.witness(_fed(c), domain, c.now, min_size)


SPECS: tuple[Spec, ...] = (
    Spec("GET", "/v1/transparency/head", "The provider's signed key transparency tree head",
         _head, response=wt.KtHead),
    Spec("GET", "/v1/transparency/lookup/{account}",
         "An account's current device keys with a lookup proof at a signed head",
         _lookup, response=wt.KtLookup, params=(ACCOUNT,), address_limit="kt_lookup"),
    Spec("GET", "/v1/transparency/consistency", "RFC 9162 consistency proof between two sizes",
         _consistency, response=wt.KtConsistency, params=(OLD, NEW)),
    Spec("GET", "/v1/transparency/peers/{domain}/head",
         "A peer provider's head, checked and countersigned by this provider (gossip)",
         _peer_head, response=wt.KtWitnessed, params=(DOMAIN, MIN_SIZE)),
    Spec("GET", "/v1/transparency/peers/{domain}/consistency",
         "A peer provider's consistency proof, relayed", _peer_consistency,
         response=wt.KtConsistency, params=(DOMAIN, OLD, NEW)),
)


def transparency_routes() -> list[Route]:
    return [Route(s.path, endpoint(s), methods=[s.method]) for s in SPECS]
