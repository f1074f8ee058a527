"""The signature schemes of MLS cipher suites, on pyca/cryptography.

Key formats are those of the MLS test vectors (RFC 9420 5.1.2 and the
mls-implementations vectors): EdDSA private keys are the raw 32/57-byte seed
and public keys the raw encoding (RFC 8032); ECDSA private keys are the
big-endian scalar of the field size, public keys the uncompressed point
(SEC 1), signatures DER (RFC 9420 5.1.2 keeps TLS 1.3's DER form). ML-DSA-87
(FIPS 204, for the post-quantum suites) uses pyca's 32-byte seed as the
private key and signs in pure mode with an empty context.

Parsed key objects are cached per key bytes: one member signs and verifies
with the same few keys many times.
"""

from __future__ import annotations

import abc
import functools
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.errors import CryptoError
from accord.mls.ec_scalar import P256_N, P384_N, P521_N, scalar_bytes

__all__ = [
    "SignatureScheme",
    "EdDsa",
    "Ecdsa",
    "MlDsa",
    "SIGNATURE_SCHEMES",
    "clear_signature_key_caches",
]

_CACHE = 512


class SignatureScheme(abc.ABC):
    """A signature algorithm over raw MLS key encodings; failures raise ``CryptoError``."""

    name: str
    scheme_id: int  # TLS SignatureScheme code point (RFC 8446 4.2.3)

    def __init__(self, name: str, scheme_id: int, private_len: int) -> None:
        self.name = name
        self.scheme_id = scheme_id
        self.private_len = private_len
        self._private = functools.lru_cache(maxsize=_CACHE)(self._parse_private)
        self._public = functools.lru_cache(maxsize=_CACHE)(self._load_public_checked)

    def __repr__(self) -> str:
        return f"<SignatureScheme {self.name}>"

    @abc.abstractmethod
    def _parse_private(self, private: bytes) -> Any:
        """The pyca private key object for raw private key bytes."""

    @abc.abstractmethod
    def _parse_public(self, public: bytes) -> Any:
        """The pyca public key object; ``ValueError`` when malformed."""

    @abc.abstractmethod
    def _encode_public(self, key: Any) -> bytes:
        """The raw MLS encoding of a pyca public key."""

    @abc.abstractmethod
    def _generate(self) -> Any:
        """A fresh pyca private key."""

    @abc.abstractmethod
    def _encode_private(self, key: Any) -> bytes:
        """The raw MLS encoding of a pyca private key."""

    def _load_public_checked(self, public: bytes) -> Any:
        try:
            return self._parse_public(public)
        except ValueError:
            raise CryptoError(f"{self.name}: malformed public key") from None

    def private_key(self, private: bytes) -> Any:
        if len(private) != self.private_len:
            raise CryptoError(
                f"{self.name}: private key must be {self.private_len} bytes, got {len(private)}"
            )
        try:
            return self._private(bytes(private))
        except ValueError:
            raise CryptoError(f"{self.name}: malformed private key") from None

    def generate(self) -> tuple[bytes, bytes]:
        """A fresh ``(private, public)`` pair in raw MLS encodings."""
        key = self._generate()
        priv = self._encode_private(key)
        return priv, self._encode_public(key.public_key())

    def public_key(self, private: bytes) -> bytes:
        return self._encode_public(self.private_key(private).public_key())

    def sign(self, private: bytes, data: bytes) -> bytes:
        sig: bytes = self._sign(self.private_key(private), data)
        return sig

    def verify(self, public: bytes, data: bytes, signature: bytes) -> None:
        key = self._public(bytes(public))
        try:
            self._verify(key, data, signature)
        except InvalidSignature:
            raise CryptoError(f"{self.name}: signature does not verify") from None

    def _sign(self, key: Any, data: bytes) -> bytes:
        out: bytes = key.sign(data)
        return out

    def _verify(self, key: Any, data: bytes, signature: bytes) -> None:
        key.verify(signature, data)


class EdDsa(SignatureScheme):
    """Ed25519 / Ed448 (RFC 8032), pure mode with an empty context."""

    def __init__(
        self, name: str, scheme_id: int, private_cls: Any, public_cls: Any, size: int
    ) -> None:
        self._private_cls = private_cls
        self._public_cls = public_cls
        self.public_len = size
        super().__init__(name, scheme_id, size)

    def _parse_private(self, private: bytes) -> Any:
        return self._private_cls.from_private_bytes(private)

    def _parse_public(self, public: bytes) -> Any:
        if len(public) != self.public_len:
            raise ValueError("wrong length")
        return self._public_cls.from_public_bytes(public)

    def _encode_public(self, key: Any) -> bytes:
        raw: bytes = key.public_bytes_raw()
        return raw

    def _generate(self) -> Any:
        return self._private_cls.generate()

    def _encode_private(self, key: Any) -> bytes:
        raw: bytes = key.private_bytes_raw()
        return raw


class Ecdsa(SignatureScheme):
    """ECDSA over a NIST curve with the matching SHA-2 hash; DER signatures."""

    def __init__(
        self,
        name: str,
        scheme_id: int,
        curve: ec.EllipticCurve,
        hash_cls: type[hashes.HashAlgorithm],
        size: int,
        order: int,
    ) -> None:
        self._curve = curve
        self._order = order
        self._alg = ec.ECDSA(hash_cls())
        super().__init__(name, scheme_id, size)

    def private_key(self, private: bytes) -> Any:
        # The official vectors (message-protection, suite 5) and other
        # implementations write a P-521 scalar without its leading zero
        # byte; ec_scalar checks the range and pads it to Nsk.
        return super().private_key(scalar_bytes(bytes(private), self.private_len, self._order))

    def _parse_private(self, private: bytes) -> Any:
        scalar = int.from_bytes(private, "big")
        if scalar == 0:
            raise ValueError("zero scalar")
        return ec.derive_private_key(scalar, self._curve)

    def _parse_public(self, public: bytes) -> Any:
        if not public or public[0] != 0x04:
            raise ValueError("not an uncompressed point")
        return ec.EllipticCurvePublicKey.from_encoded_point(self._curve, public)

    def _encode_public(self, key: Any) -> bytes:
        raw: bytes = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return raw

    def _generate(self) -> Any:
        return ec.generate_private_key(self._curve)

    def _encode_private(self, key: Any) -> bytes:
        return int(key.private_numbers().private_value).to_bytes(self.private_len, "big")

    def _sign(self, key: Any, data: bytes) -> bytes:
        out: bytes = key.sign(data, self._alg)
        return out

    def _verify(self, key: Any, data: bytes, signature: bytes) -> None:
        key.verify(signature, data, self._alg)


class MlDsa(SignatureScheme):
    """ML-DSA-87 (FIPS 204) in pure mode, empty context; private key = 32-byte seed."""

    def __init__(self) -> None:
        super().__init__("ML-DSA-87", 0x0906, 32)

    def _parse_private(self, private: bytes) -> Any:
        return mldsa.MLDSA87PrivateKey.from_seed_bytes(private)

    def _parse_public(self, public: bytes) -> Any:
        return mldsa.MLDSA87PublicKey.from_public_bytes(public)

    def _encode_public(self, key: Any) -> bytes:
        raw: bytes = key.public_bytes_raw()
        return raw

    def _generate(self) -> Any:
        return mldsa.MLDSA87PrivateKey.generate()

    def _encode_private(self, key: Any) -> bytes:
        raw: bytes = key.private_bytes_raw()
        return raw


SIGNATURE_SCHEMES: dict[str, SignatureScheme] = {
    "Ed25519": EdDsa("Ed25519", 0x0807, ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, 32),
    "Ed448": EdDsa("Ed448", 0x0808, ed448.Ed448PrivateKey, ed448.Ed448PublicKey, 57),
    "P256": Ecdsa("ECDSA-P256-SHA256", 0x0403, ec.SECP256R1(), hashes.SHA256, 32, P256_N),
    "P384": Ecdsa("ECDSA-P384-SHA384", 0x0503, ec.SECP384R1(), hashes.SHA384, 48, P384_N),
    "P521": Ecdsa("ECDSA-P521-SHA512", 0x0603, ec.SECP521R1(), hashes.SHA512, 66, P521_N),
    "ML-DSA-87": MlDsa(),
}


def clear_signature_key_caches() -> None:
    """Drop every cached parsed signature key (private ones included)."""
    for scheme in SIGNATURE_SCHEMES.values():
        scheme._private.cache_clear()
        scheme._public.cache_clear()
