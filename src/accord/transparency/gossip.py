"""Head gossip (issue 7): a provider countersigns the peer heads it has seen.

A client compares the head it fetched from a provider with the heads of
that provider that reach it another way (through its own provider, from a
contact); ``heads.detect_split_view`` turns a disagreement into evidence.
A witness provider that has checked a peer's head (signature, and
consistency with the last head it held) countersigns it, so a provider that
shows different heads to different witnesses is caught as soon as two
cosigned heads meet.

The witness signs, with its Ed25519 key,
``"accord kt cosignature v1" || 0x00 || CosignatureTBS`` where the TBS names
the witness, the SHA-256 of the encoded signed head, and the witness's time.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.bounded import BoundedText
from accord.errors import CryptoError, ValidationError
from accord.mls.codec import U64, Fixed, decode, encode, wire
from accord.transparency.heads import SignedTreeHead

__all__ = ["Cosignature", "CosignatureTBS", "cosign", "decode_cosignature", "signed_head_hash",
           "verify_cosignature"]

_LABEL = b"accord kt cosignature v1\x00"


@wire
class CosignatureTBS:
    witness: BoundedText(253, 1)  # type: ignore[valid-type]
    head_hash: Annotated[bytes, Fixed(32)]
    timestamp: U64  # when the witness saw the head, ms since the epoch


@wire
class Cosignature:
    tbs: CosignatureTBS
    signature: Annotated[bytes, Fixed(64)]


def decode_cosignature(data: bytes) -> Cosignature:
    cosig: Any = decode(Cosignature, data)
    assert isinstance(cosig, Cosignature)
    return cosig


def signed_head_hash(sth: SignedTreeHead) -> bytes:
    return hashlib.sha256(encode(SignedTreeHead, sth)).digest()


def cosign(
    witness_key: Ed25519PrivateKey, witness: str, sth: SignedTreeHead, now: int
) -> Cosignature:
    """Countersign a peer's head; the caller has verified it first."""
    tbs = CosignatureTBS(witness, signed_head_hash(sth), now)
    return Cosignature(tbs, witness_key.sign(_LABEL + encode(CosignatureTBS, tbs)))


def verify_cosignature(
    witness_key: Ed25519PublicKey | bytes, witness: str, sth: SignedTreeHead, cosig: Cosignature
) -> None:
    """Raise unless ``witness`` countersigned exactly ``sth``."""
    if cosig.tbs.witness != witness:
        raise ValidationError(f"cosigned by {cosig.tbs.witness!r}, expected {witness!r}", "issue 7")
    if cosig.tbs.head_hash != signed_head_hash(sth):
        raise CryptoError("the cosignature is for another head")
    key = (
        witness_key
        if isinstance(witness_key, Ed25519PublicKey)
        else Ed25519PublicKey.from_public_bytes(witness_key)
    )
    try:
        key.verify(cosig.signature, _LABEL + encode(CosignatureTBS, cosig.tbs))
    except InvalidSignature:
        raise CryptoError("cosignature does not verify") from None
