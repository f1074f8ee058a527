"""Signed tree heads, their checks on the client, and split-view evidence.

A head commits to the log (size, RFC 9162 root), to the prefix map of
current entries (``map_root``) and to the index key (``index_key_commitment``),
at a time the provider states (``timestamp``, passed in, never read from a
clock). The provider signs, with Ed25519 (RFC 8032),
``"accord kt tree head v1" || 0x00 || TreeHead`` so the signature cannot be
replayed as any other Accord signature, and the provider's domain inside
``TreeHead`` ties it to one log.

The client keeps the last head it accepted per provider and moves forward
only through ``verify_head_update``: same domain, same index key, a size and
time that do not go back, and a consistency proof (RFC 9162 2.1.4.2).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.bounded import BoundedText
from accord.errors import CryptoError, ValidationError
from accord.mls.codec import U64, Fixed, decode, encode, wire
from accord.transparency.proofs import verify_consistency

__all__ = [
    "SignedTreeHead",
    "SplitViewEvidence",
    "TreeHead",
    "check_split_view_evidence",
    "decode_signed_head",
    "detect_split_view",
    "sign_head",
    "verify_head_update",
    "verify_signed_head",
]

_LABEL = b"accord kt tree head v1\x00"
Hash32 = Annotated[bytes, Fixed(32)]


@wire
class TreeHead:
    domain: BoundedText(253, 1)  # type: ignore[valid-type]
    size: U64
    root: Hash32
    map_root: Hash32
    index_key_commitment: Hash32
    timestamp: U64  # ms since the Unix epoch


@wire
class SignedTreeHead:
    head: TreeHead
    signature: Annotated[bytes, Fixed(64)]


def _tbs(head: TreeHead) -> bytes:
    return _LABEL + encode(TreeHead, head)


def sign_head(signing_key: Ed25519PrivateKey, head: TreeHead) -> SignedTreeHead:
    return SignedTreeHead(head, signing_key.sign(_tbs(head)))


def decode_signed_head(data: bytes) -> SignedTreeHead:
    sth: Any = decode(SignedTreeHead, data)
    assert isinstance(sth, SignedTreeHead)
    return sth


def _public_key(key: Ed25519PublicKey | bytes) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    if len(key) != 32:
        raise ValidationError("an Ed25519 public key is 32 bytes", "RFC 8032 5.1.5")
    return Ed25519PublicKey.from_public_bytes(key)


def verify_signed_head(
    sth: SignedTreeHead, provider_key: Ed25519PublicKey | bytes, domain: str
) -> TreeHead:
    """The head, once its signature and domain check out."""
    if sth.head.domain != domain:
        raise ValidationError(f"head of {sth.head.domain!r}, expected {domain!r}", "issue 7")
    try:
        _public_key(provider_key).verify(sth.signature, _tbs(sth.head))
    except InvalidSignature:
        raise CryptoError("tree head signature does not verify") from None
    return sth.head


def verify_head_update(old: TreeHead | None, new: TreeHead, proof: tuple[bytes, ...]) -> None:
    """Raise unless ``new`` may replace ``old`` (both already signature-checked)."""
    if old is None:
        return
    if new.domain != old.domain or new.index_key_commitment != old.index_key_commitment:
        raise ValidationError("a head of another log or index key", "issue 7")
    if new.size < old.size or new.timestamp < old.timestamp:
        raise ValidationError("the log went back in size or time", "RFC 9162 2.1.4")
    verify_consistency(old.size, new.size, old.root, new.root, proof)
    if new.size == old.size and new.map_root != old.map_root:
        raise CryptoError("one log, two maps: the map root is a function of the log")


@dataclasses.dataclass(frozen=True, slots=True)
class SplitViewEvidence:
    """Two heads one provider signed that cannot both be true (T06, T07).

    ``conclusive`` evidence convinces anyone with the provider's key: two
    signed heads of one size with different roots, or one log with two
    maps or two index keys. ``inconsistent_proof`` rests on a proof the
    provider served; a third party should ask the provider for a consistency
    proof between the two heads, which an honest log can always give.
    """

    kind: str  # "same_size_different_root" | "different_map_root" |
    # "different_index_key" | "log_went_back" | "inconsistent_proof"
    first: SignedTreeHead
    second: SignedTreeHead
    proof: tuple[bytes, ...] = ()

    @property
    def conclusive(self) -> bool:
        return self.kind != "inconsistent_proof"


def _conflict(a: TreeHead, b: TreeHead, proof: tuple[bytes, ...]) -> str | None:
    if a.index_key_commitment != b.index_key_commitment:
        return "different_index_key"
    if a.size == b.size and a.root != b.root:
        return "same_size_different_root"
    if a.size < b.size and a.timestamp > b.timestamp:
        return "log_went_back"  # a later head of a smaller log
    if a.size == b.size and a.map_root != b.map_root:
        return "different_map_root"
    try:
        verify_consistency(a.size, b.size, a.root, b.root, proof)
    except (CryptoError, ValidationError):
        return "inconsistent_proof"
    return None


def detect_split_view(
    provider_key: Ed25519PublicKey | bytes,
    first: SignedTreeHead,
    second: SignedTreeHead,
    proof: tuple[bytes, ...] = (),
) -> SplitViewEvidence | None:
    """Evidence if two validly signed heads of one provider disagree, else None.

    ``proof`` is the provider's consistency proof from the smaller head to the
    larger. Heads that are not both signed by ``provider_key`` for one domain
    are not evidence of anything: that raises ``CryptoError`` / ``ValidationError``.
    """
    a, b = (first, second) if first.head.size <= second.head.size else (second, first)
    verify_signed_head(a, provider_key, a.head.domain)
    verify_signed_head(b, provider_key, a.head.domain)
    kind = _conflict(a.head, b.head, proof)
    return None if kind is None else SplitViewEvidence(kind, a, b, tuple(proof))


def check_split_view_evidence(
    provider_key: Ed25519PublicKey | bytes, evidence: SplitViewEvidence
) -> None:
    """A third party's check: raise ``ValidationError`` unless the evidence holds."""
    found = detect_split_view(provider_key, evidence.first, evidence.second, evidence.proof)
    if found is None or found.kind != evidence.kind:
        raise ValidationError("the two heads do not conflict as claimed", "issue 7")
