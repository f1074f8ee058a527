"""Post-quantum HPKE KEMs on pyca/cryptography: ML-KEM-768/1024 and X-Wing.

Key formats and DeriveKeyPair follow the ``@hpke/ml-kem`` 0.3 and
``@hpke/hybridkem-x-wing`` 0.7 packages that ts-mls 1.6.4 uses, so Accord's
post-quantum suites interoperate with ts-mls (tests/mls/test_hpke_tsmls.py).
pyca provides ML-KEM and X25519; X-Wing's key expansion and combiner
(draft-connolly-cfrg-xwing-kem) are composed here from pyca's SHAKE256 and
SHA3-256, and checked against pyca's own MLKEM768_X25519 HPKE.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from accord.errors import CryptoError

__all__ = ["MlKem", "XWing", "clear_pq_caches"]

_CACHE = 512


@functools.lru_cache(maxsize=_CACHE)
def _mlkem768(seed: bytes) -> Any:
    return mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)


@functools.lru_cache(maxsize=_CACHE)
def _mlkem1024(seed: bytes) -> Any:
    return mlkem.MLKEM1024PrivateKey.from_seed_bytes(seed)


@functools.lru_cache(maxsize=_CACHE)
def _mlkem768_pub(pk: bytes) -> Any:
    return mlkem.MLKEM768PublicKey.from_public_bytes(pk)


@functools.lru_cache(maxsize=_CACHE)
def _mlkem1024_pub(pk: bytes) -> Any:
    return mlkem.MLKEM1024PublicKey.from_public_bytes(pk)


class MlKem:
    """ML-KEM (FIPS 203) as an HPKE KEM: the shared secret is ML-KEM's own.

    The private key is the 64-byte seed d || z. DeriveKeyPair takes a 64-byte
    ikm as that seed, as ``@hpke/ml-kem`` 0.3 (used by ts-mls) does; MLS calls
    it with a node secret of KDF.Nh = 64 bytes (HKDF-SHA512).
    """

    n_secret = 32
    n_sk = 64

    def __init__(self, kem_id: int, name: str, level: int) -> None:
        self.kem_id = kem_id
        self.name = name
        self._priv = _mlkem768 if level == 768 else _mlkem1024
        self._pub = _mlkem768_pub if level == 768 else _mlkem1024_pub
        self.n_pk = 1184 if level == 768 else 1568
        self.n_enc = 1088 if level == 768 else 1568
        self.pyca_kem = pyca_hpke.KEM.MLKEM768 if level == 768 else pyca_hpke.KEM.MLKEM1024

    def __repr__(self) -> str:
        return f"<MlKem {self.name}>"

    def pyca_private(self, sk: bytes) -> Any:
        if len(sk) != self.n_sk:
            raise CryptoError(f"{self.name} private key must be a {self.n_sk}-byte seed")
        return self._priv(sk)

    def pyca_public(self, pk: bytes) -> Any:
        if len(pk) != self.n_pk:
            raise CryptoError(f"{self.name} public key must be {self.n_pk} bytes")
        try:
            return self._pub(pk)
        except ValueError:
            raise CryptoError(f"{self.name} public key is malformed") from None

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        sk = os.urandom(self.n_sk)
        return sk, self.public_key(sk)

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        if len(ikm) != self.n_sk:
            raise CryptoError(f"{self.name} DeriveKeyPair needs a {self.n_sk}-byte ikm")
        return bytes(ikm), self.public_key(ikm)

    def public_key(self, sk: bytes) -> bytes:
        raw: bytes = self.pyca_private(sk).public_key().public_bytes_raw()
        return raw

    def encap(self, pk: bytes, ikm_e: bytes | None = None) -> tuple[bytes, bytes]:
        if ikm_e is not None:
            raise CryptoError("pyca's ML-KEM has no derandomized encapsulation")
        ss, ct = self.pyca_public(pk).encapsulate()
        return ss, ct

    def decap(self, enc: bytes, sk: bytes) -> bytes:
        if len(enc) != self.n_enc:
            raise CryptoError(f"{self.name} ciphertext must be {self.n_enc} bytes")
        ss: bytes = self.pyca_private(sk).decapsulate(enc)
        return ss


_XWING_LABEL = b"\\.//^\\"  # draft-connolly-cfrg-xwing-kem: XWingLabel


def _shake256(data: bytes, length: int) -> bytes:
    h = hashes.Hash(hashes.SHAKE256(length))
    h.update(data)
    return h.finalize()


def _sha3_256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA3_256())
    h.update(data)
    return h.finalize()


@functools.lru_cache(maxsize=_CACHE)
def _xwing_expand(sk: bytes) -> tuple[Any, Any, bytes, bytes, Any]:
    """draft-connolly-cfrg-xwing-kem expandDecapsulationKey.

    Returns (ML-KEM key, X25519 key, pk_M, pk_X, pyca's hybrid private key).
    """
    expanded = _shake256(sk, 96)
    key_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    key_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:96])
    pk_m = key_m.public_key().public_bytes_raw()
    pk_x = key_x.public_key().public_bytes_raw()
    return key_m, key_x, pk_m, pk_x, pyca_hpke.MLKEM768X25519PrivateKey(key_m, key_x)


@functools.lru_cache(maxsize=_CACHE)
def _xwing_public(pk: bytes) -> tuple[Any, Any, Any]:
    pub_m = mlkem.MLKEM768PublicKey.from_public_bytes(pk[:1184])
    pub_x = x25519.X25519PublicKey.from_public_bytes(pk[1184:])
    return pub_m, pub_x, pyca_hpke.MLKEM768X25519PublicKey(pub_m, pub_x)


class XWing:
    """X-Wing (ML-KEM-768 + X25519, HPKE KEM id 0x647A), composed from pyca parts.

    Private key: the 32-byte X-Wing seed. Public key: pk_M (1184) || pk_X (32).
    enc: ct_M (1088) || ct_X (32). DeriveKeyPair(ikm): seed = SHAKE256(ikm, 32),
    as in the X-Wing draft's HPKE section and ``@hpke/hybridkem-x-wing``.
    """

    kem_id = 0x647A
    name = "X-Wing"
    n_secret = 32
    n_sk = 32
    n_pk = 1216
    n_enc = 1120
    pyca_kem = pyca_hpke.KEM.MLKEM768_X25519

    def __repr__(self) -> str:
        return "<XWing>"

    def _expand(self, sk: bytes) -> tuple[Any, Any, bytes, bytes, Any]:
        if len(sk) != self.n_sk:
            raise CryptoError("X-Wing private key must be a 32-byte seed")
        return _xwing_expand(bytes(sk))

    def pyca_private(self, sk: bytes) -> Any:
        return self._expand(sk)[4]

    def pyca_public(self, pk: bytes) -> Any:
        return self._public(pk)[2]

    def _public(self, pk: bytes) -> tuple[Any, Any, Any]:
        if len(pk) != self.n_pk:
            raise CryptoError("X-Wing public key must be 1216 bytes")
        try:
            return _xwing_public(bytes(pk))
        except ValueError:
            raise CryptoError("X-Wing public key is malformed") from None

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        sk = os.urandom(32)
        return sk, self.public_key(sk)

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        sk = _shake256(ikm, 32)
        return sk, self.public_key(sk)

    def public_key(self, sk: bytes) -> bytes:
        _, _, pk_m, pk_x, _ = self._expand(sk)
        return pk_m + pk_x

    def encap(self, pk: bytes, ikm_e: bytes | None = None) -> tuple[bytes, bytes]:
        if ikm_e is not None:
            raise CryptoError("pyca's ML-KEM has no derandomized encapsulation")
        pub_m, pub_x, _ = self._public(pk)
        ek_x = x25519.X25519PrivateKey.generate()
        ct_x = ek_x.public_key().public_bytes_raw()
        ss_x = ek_x.exchange(pub_x)
        ss_m, ct_m = pub_m.encapsulate()
        return _sha3_256(ss_m + ss_x + ct_x + pk[1184:] + _XWING_LABEL), ct_m + ct_x

    def decap(self, enc: bytes, sk: bytes) -> bytes:
        if len(enc) != self.n_enc:
            raise CryptoError("X-Wing ciphertext must be 1120 bytes")
        key_m, key_x, _, pk_x, _ = self._expand(sk)
        ct_m, ct_x = enc[:1088], enc[1088:]
        try:
            ss_x = key_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
        except ValueError:
            raise CryptoError("X-Wing: X25519 produced an invalid result") from None
        ss_m = key_m.decapsulate(ct_m)
        return _sha3_256(ss_m + ss_x + ct_x + pk_x + _XWING_LABEL)


def clear_pq_caches() -> None:
    """Drop the cached parsed ML-KEM / X-Wing keys."""
    for fn in (_mlkem768, _mlkem1024, _mlkem768_pub, _mlkem1024_pub, _xwing_expand, _xwing_public):
        fn.cache_clear()
