"""Client-side verification of log proofs: RFC 9162 2.1.3.2 and 2.1.4.2.

Pure functions over explicit values. A proof that does not verify raises
``CryptoError``; arguments that cannot describe a proof at all (a hash that
is not 32 bytes, an index past the tree) raise ``ValidationError`` with the
RFC section as the rule.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from hashlib import sha256

from accord.errors import CryptoError, ValidationError

__all__ = ["MAX_PROOF_HASHES", "root_from_inclusion", "verify_consistency", "verify_inclusion"]

# A tree of 2^64 leaves has paths of 64 hashes; a consistency proof at most
# one more than that. Anything longer is refused before hashing.
MAX_PROOF_HASHES = 65


def _check_hashes(hashes: Sequence[bytes], rule: str) -> None:
    if len(hashes) > MAX_PROOF_HASHES:
        raise ValidationError(f"proof of {len(hashes)} hashes is too long", rule)
    if any(len(h) != 32 for h in hashes):
        raise ValidationError("every proof hash is 32 bytes", rule)


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 2.1.3.2, steps 1-4)."""
    rule = "RFC 9162 2.1.3.2"
    _check_hashes([leaf, *path], rule)
    if not 0 <= index < size:
        raise ValidationError(f"leaf {index} is not in a tree of {size}", rule)
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise CryptoError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r).digest()
            # Skip the levels where this node is the last, unpaired one.
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CryptoError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """Raise unless ``leaf`` is at ``index`` in the tree of ``size`` with ``root``."""
    computed = root_from_inclusion(index, size, leaf, path)
    if len(root) != 32 or not hmac.compare_digest(computed, root):
        raise CryptoError("inclusion proof does not lead to the tree head's root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise unless the tree (size2, root2) extends (size1, root1) (RFC 9162 2.1.4.2)."""
    rule = "RFC 9162 2.1.4.2"
    _check_hashes([root1, root2, *proof], rule)
    if not 0 <= size1 <= size2:
        raise ValidationError(f"size {size1} is not at most {size2}", rule)
    if size1 == size2:
        # Same tree: the proof is empty and the roots are equal (RFC 9162 2.1.4.1).
        if proof or not hmac.compare_digest(root1, root2):
            raise CryptoError("two heads of one size with different roots")
        return
    if size1 == 0:
        if proof:
            raise CryptoError("a consistency proof from the empty tree is empty")
        return
    if not proof:
        raise CryptoError("empty consistency proof")  # step 1
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)  # step 2: the old tree is one complete subtree
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise CryptoError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = sha256(b"\x01" + c + fr).digest()
            sr = sha256(b"\x01" + c + sr).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # Step 7: both roots rebuilt, and the proof reached the top of the new tree.
    if sn != 0 or not hmac.compare_digest(fr, root1) or not hmac.compare_digest(sr, root2):
        raise CryptoError("consistency proof does not link the two tree heads")
