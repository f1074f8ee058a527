"""The KEMs of HPKE, built on pyca/cryptography's curves.

DHKEM (RFC 9180 4.1) over X25519, X448, P-256, P-384 and P-521, including
DeriveKeyPair (RFC 9180 7.1.3), which pyca does not offer. The post-quantum
KEMs (ML-KEM, X-Wing) live in ``accord.mls.hpke_pq``; ``KEMS`` holds all of
them by HPKE KEM id.

Keys are bytes in RFC 9180 7.1 serialization. Parsed pyca key objects are
cached per key (``functools.lru_cache``) because MLS uses the same node keys
over and over, and parsing (a scalar multiplication for P-curves) costs as
much as the operation itself.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.errors import CryptoError
from accord.mls.ec_scalar import P256_N, P384_N, P521_N, scalar_bytes
from accord.mls.hpke import KDFS, Kdf
from accord.mls.hpke_pq import MlKem, XWing, clear_pq_caches

__all__ = ["DhKem", "KEMS", "clear_key_caches"]

_CACHE = 512


# --------------------------------------------------------------------------
# The Diffie-Hellman groups behind DHKEM


class _Group(Protocol):
    """A DH group as DHKEM needs it: parse, serialize, DH, and DeriveKeyPair's last step."""

    n_pk: int
    n_sk: int

    def generate_private(self) -> Any: ...
    def private(self, sk: bytes) -> Any: ...
    def load_private(self, sk: bytes) -> Any: ...
    def public(self, pk: bytes) -> Any: ...
    def public_bytes(self, pub: Any) -> bytes: ...
    def private_bytes(self, priv: Any) -> bytes: ...
    def sk_from_prk(self, kdf: Kdf, suite_id: bytes, dkp_prk: bytes) -> bytes: ...


class _Montgomery:
    """X25519 / X448 (RFC 7748). Keys are the raw 32/56-byte strings."""

    def __init__(self, private_cls: Any, public_cls: Any, size: int) -> None:
        self.n_pk = self.n_sk = size
        self._private_cls = private_cls
        self._public_cls = public_cls
        self.private = functools.lru_cache(maxsize=_CACHE)(self.load_private)
        self.public = functools.lru_cache(maxsize=_CACHE)(self._load_public)

    def load_private(self, sk: bytes) -> Any:
        if len(sk) != self.n_sk:
            raise CryptoError(f"private key must be {self.n_sk} bytes, got {len(sk)}")
        return self._private_cls.from_private_bytes(sk)

    def _load_public(self, pk: bytes) -> Any:
        if len(pk) != self.n_pk:
            raise CryptoError(f"public key must be {self.n_pk} bytes, got {len(pk)}")
        return self._public_cls.from_public_bytes(pk)

    def generate_private(self) -> Any:
        return self._private_cls.generate()

    def private_bytes(self, priv: Any) -> bytes:
        raw: bytes = priv.private_bytes_raw()
        return raw

    def public_bytes(self, pub: Any) -> bytes:
        raw: bytes = pub.public_bytes_raw()
        return raw

    def sk_from_prk(self, kdf: Kdf, suite_id: bytes, dkp_prk: bytes) -> bytes:
        # RFC 9180 7.1.3: for X25519/X448, sk = LabeledExpand(dkp_prk, "sk", "", Nsk);
        # clamping happens inside the curve operation.
        return kdf.labeled_expand(suite_id, dkp_prk, b"sk", b"", self.n_sk)


class _Weierstrass:
    """NIST P-curves: private = big-endian scalar of Nsk bytes, public = uncompressed point."""

    def __init__(self, curve: ec.EllipticCurve, order: int, size: int, bitmask: int) -> None:
        self._curve = curve
        self._order = order
        self._bitmask = bitmask
        self.n_sk = size
        self.n_pk = 1 + 2 * size
        self.private = functools.lru_cache(maxsize=_CACHE)(self.load_private)
        self.public = functools.lru_cache(maxsize=_CACHE)(self._load_public)

    def load_private(self, sk: bytes) -> Any:
        # A scalar shorter than Nsk is accepted (ec_scalar): peers write
        # P-521 keys without the leading zero octet.
        scalar = int.from_bytes(scalar_bytes(sk, self.n_sk, self._order), "big")
        return ec.derive_private_key(scalar, self._curve)

    def _load_public(self, pk: bytes) -> Any:
        # RFC 9180 7.1.4: public keys must be validated; pyca checks the point is on the curve.
        if len(pk) != self.n_pk or pk[0] != 0x04:
            raise CryptoError(f"public key must be an uncompressed point of {self.n_pk} bytes")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(self._curve, pk)
        except ValueError:
            raise CryptoError("public key is not a point on the curve") from None

    def generate_private(self) -> Any:
        return ec.generate_private_key(self._curve)

    def private_bytes(self, priv: Any) -> bytes:
        return int(priv.private_numbers().private_value).to_bytes(self.n_sk, "big")

    def public_bytes(self, pub: Any) -> bytes:
        raw: bytes = pub.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return raw

    def sk_from_prk(self, kdf: Kdf, suite_id: bytes, dkp_prk: bytes) -> bytes:
        # RFC 9180 7.1.3: rejection sampling over "candidate" || counter, with the
        # top byte masked so that a candidate is below the order often enough.
        for counter in range(256):
            raw = bytearray(
                kdf.labeled_expand(suite_id, dkp_prk, b"candidate", bytes([counter]), self.n_sk)
            )
            raw[0] &= self._bitmask
            if 0 < int.from_bytes(raw, "big") < self._order:
                return bytes(raw)
        raise CryptoError("DeriveKeyPair: no valid candidate in 256 tries (RFC 9180 7.1.3)")


# --------------------------------------------------------------------------
# DHKEM (RFC 9180 4.1)


class DhKem:
    """DHKEM(Group, HKDF) of RFC 9180 4.1."""

    def __init__(
        self, kem_id: int, name: str, group: _Group, kdf: Kdf, n_secret: int, pyca_kem: Any
    ) -> None:
        self.kem_id = kem_id
        self.name = name
        self.group = group
        self.kdf = kdf
        self.n_secret = n_secret
        self.n_pk = self.n_enc = group.n_pk
        self.n_sk = group.n_sk
        self.pyca_kem = pyca_kem
        # RFC 9180 4.1: the KEM's own suite_id is "KEM" || I2OSP(kem_id, 2).
        self.suite_id = b"KEM" + kem_id.to_bytes(2, "big")

    def __repr__(self) -> str:
        return f"<DhKem {self.name}>"

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        priv = self.group.generate_private()
        return self.group.private_bytes(priv), self.group.public_bytes(priv.public_key())

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """RFC 9180 7.1.3 DeriveKeyPair."""
        dkp_prk = self.kdf.labeled_extract(self.suite_id, b"", b"dkp_prk", ikm)
        sk = self.group.sk_from_prk(self.kdf, self.suite_id, dkp_prk)
        return sk, self.public_key(sk)

    def public_key(self, sk: bytes) -> bytes:
        return self.group.public_bytes(self.group.private(sk).public_key())

    def pyca_private(self, sk: bytes) -> Any:
        return self.group.private(sk)

    def pyca_public(self, pk: bytes) -> Any:
        return self.group.public(pk)

    def _dh(self, priv: Any, pub: Any) -> bytes:
        try:
            if isinstance(priv, ec.EllipticCurvePrivateKey):
                dh: bytes = priv.exchange(ec.ECDH(), pub)
            else:
                dh = priv.exchange(pub)
        except ValueError:
            # RFC 9180 7.1.4: an all-zero X25519/X448 result must abort.
            raise CryptoError(f"{self.name}: Diffie-Hellman produced an invalid result") from None
        return dh

    def _extract_and_expand(self, dh: bytes, kem_context: bytes) -> bytes:
        # RFC 9180 4.1 ExtractAndExpand
        eae_prk = self.kdf.labeled_extract(self.suite_id, b"", b"eae_prk", dh)
        return self.kdf.labeled_expand(
            self.suite_id, eae_prk, b"shared_secret", kem_context, self.n_secret
        )

    def encap(self, pk: bytes, ikm_e: bytes | None = None) -> tuple[bytes, bytes]:
        """RFC 9180 4.1 Encap: ``(shared_secret, enc)``."""
        # Ephemeral keys are parsed without the cache: each is used once.
        if ikm_e is None:
            priv_e = self.group.generate_private()
        else:
            priv_e = self.group.load_private(self.derive_key_pair(ikm_e)[0])
        dh = self._dh(priv_e, self.group.public(pk))
        enc = self.group.public_bytes(priv_e.public_key())
        return self._extract_and_expand(dh, enc + pk), enc

    def decap(self, enc: bytes, sk: bytes) -> bytes:
        """RFC 9180 4.1 Decap."""
        priv = self.group.private(sk)
        dh = self._dh(priv, self.group.public(enc))
        pk_rm = self.group.public_bytes(priv.public_key())
        return self._extract_and_expand(dh, enc + pk_rm)


# --------------------------------------------------------------------------
# The registry, by HPKE KEM id (RFC 9180 7.1, draft-ietf-hpke-pq)

KEMS: dict[int, Any] = {
    0x0010: DhKem(
        0x0010,
        "DHKEM(P-256, HKDF-SHA256)",
        _Weierstrass(ec.SECP256R1(), P256_N, 32, 0xFF),
        KDFS[1],
        32,
        pyca_hpke.KEM.P256,
    ),
    0x0011: DhKem(
        0x0011,
        "DHKEM(P-384, HKDF-SHA384)",
        _Weierstrass(ec.SECP384R1(), P384_N, 48, 0xFF),
        KDFS[2],
        48,
        pyca_hpke.KEM.P384,
    ),
    0x0012: DhKem(
        0x0012,
        "DHKEM(P-521, HKDF-SHA512)",
        _Weierstrass(ec.SECP521R1(), P521_N, 66, 0x01),
        KDFS[3],
        64,
        pyca_hpke.KEM.P521,
    ),
    0x0020: DhKem(
        0x0020,
        "DHKEM(X25519, HKDF-SHA256)",
        _Montgomery(x25519.X25519PrivateKey, x25519.X25519PublicKey, 32),
        KDFS[1],
        32,
        pyca_hpke.KEM.X25519,
    ),
    # pyca has no X448 KEM: the composed DHKEM is the only path (pyca_kem None).
    0x0021: DhKem(
        0x0021,
        "DHKEM(X448, HKDF-SHA512)",
        _Montgomery(x448.X448PrivateKey, x448.X448PublicKey, 56),
        KDFS[3],
        64,
        None,
    ),
    0x0041: MlKem(0x0041, "ML-KEM-768", 768),
    0x0042: MlKem(0x0042, "ML-KEM-1024", 1024),
    0x647A: XWing(),
}


def clear_key_caches() -> None:
    """Drop every cached parsed key (private ones included), e.g. when a profile locks."""
    for kem in KEMS.values():
        if isinstance(kem, DhKem):
            kem.group.private.cache_clear()  # type: ignore[attr-defined]
            kem.group.public.cache_clear()  # type: ignore[attr-defined]
    clear_pq_caches()
