"""The key transparency API's JSON bodies (issue 7), declared once for provider and client.

Binary fields carry the TLS-presentation encodings of ``accord.transparency``
(``SignedTreeHead``, ``LookupProof``, ``Cosignature``) as base64url, so a
client verifies exactly the bytes the provider signed or proved.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.wire.codec import f

DOMAIN_RE = r"[a-z0-9][a-z0-9.-]{0,252}"
MAX_HEAD = 1024
MAX_PROOF = 64 * 1024
MAX_HASHES = 65  # accord.transparency.proofs.MAX_PROOF_HASHES


@dataclass(frozen=True, slots=True)
class KtHead:
    """``GET /v1/transparency/head``: the provider's current signed tree head."""

    head: bytes = f(min_len=1, max_len=MAX_HEAD)


@dataclass(frozen=True, slots=True)
class KtLookup:
    """``GET /v1/transparency/lookup/{account}``: a head and the lookup proof at it."""

    account: str = f(max_len=320)
    head: bytes = f(min_len=1, max_len=MAX_HEAD)
    proof: bytes = f(min_len=1, max_len=MAX_PROOF)


@dataclass(frozen=True, slots=True)
class KtConsistency:
    """``GET /v1/transparency/consistency?old=&new=``: RFC 9162 2.1.4.1 proof."""

    old: int = f(minimum=0)
    new: int = f(minimum=0)
    proof: list[bytes] = f(max_items=MAX_HASHES, item_max_len=32)


@dataclass(frozen=True, slots=True)
class KtWitnessed:
    """``GET /v1/transparency/peers/{domain}/head``: a peer's head this provider checked.

    ``cosignature`` is this provider's (``witness``) countersignature of
    ``head`` (``accord.transparency.gossip``); ``signing_key`` is the key of
    ``domain`` the witness checked the head with (from discovery).
    """

    domain: str = f(max_len=253, pattern=DOMAIN_RE)
    witness: str = f(max_len=253, pattern=DOMAIN_RE)
    head: bytes = f(min_len=1, max_len=MAX_HEAD)
    cosignature: bytes = f(min_len=1, max_len=512)
    signing_key: bytes = f(min_len=32, max_len=32)
