"""Private scalars of the NIST P-curves, as HPKE (RFC 9180 7.1.2) and ECDSA
keys of MLS cipher suites (RFC 9420 5.1) write them.

One rule for every import of a P-curve private key: the big-endian scalar
must lie in [1, n-1]; a string shorter than Nsk names the same integer and is
accepted (other implementations drop a P-521 key's leading zero octet, 65
instead of 66), and is left-padded to Nsk. Accord itself always writes Nsk
octets (``to_bytes(n_sk)``).
"""

from __future__ import annotations

from accord.errors import CryptoError

__all__ = ["P256_N", "P384_N", "P521_N", "scalar_bytes"]

# Group orders from SEC 2 / FIPS 186-4 D.1.2.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_N = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
# Written in SEC 2's groups of eight: a longer literal once had two extra F
# digits, which made the range check too weak (tests/mls/test_peer_leniency.py
# checks (n-1)*G = -G for each order).
P521_N = int(
    "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA"
    "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)


def scalar_bytes(sk: bytes, n_sk: int, order: int) -> bytes:
    """``sk`` as exactly ``n_sk`` octets, after checking 0 < scalar < order.
    Longer strings are refused even with leading zeros: no implementation
    writes them, and one key must have one short list of spellings."""
    if not 0 < len(sk) <= n_sk:
        raise CryptoError(f"private key must be 1 to {n_sk} bytes, got {len(sk)}")
    scalar = int.from_bytes(sk, "big")
    if not 0 < scalar < order:
        raise CryptoError("private scalar is out of range")
    return scalar.to_bytes(n_sk, "big")
