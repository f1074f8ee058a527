"""MLS cipher suites (RFC 9420 5.1, 17.1): the one place MLS touches cryptography.

``get_suite(n)`` returns the frozen ``CipherSuite`` for a code point. Each
suite bundles a hash, a KDF, an AEAD, an HPKE suite and a signature scheme,
and offers the labeled operations of RFC 9420 5 and 8 on top of them. Keys
are bytes in the encodings of the MLS test vectors; every failure raises
``CryptoError`` (never ``None``).

Besides the seven suites of RFC 9420 17.1, the post-quantum suites of ts-mls
1.6.4 (draft-ietf-mls-pq-ciphersuites code points) are offered where pyca has
every part; see docs/PROTOCOL.md "Cipher suites".
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac

from accord.errors import CryptoError, ValidationError
from accord.mls.codec import U16, U32, encode, encode_varint, wire
from accord.mls.hpke import AEADS, KDFS, Aead, Hpke, Kdf
from accord.mls.hpke_kem import KEMS
from accord.mls.hpke_kem import clear_key_caches as _clear_hpke_caches
from accord.mls.signature_schemes import (
    SIGNATURE_SCHEMES,
    SignatureScheme,
    clear_signature_key_caches,
)

__all__ = [
    "CipherSuite",
    "EncryptContext",
    "KDFLabel",
    "RefHashInput",
    "SignContent",
    "SUITES",
    "clear_key_caches",
    "get_suite",
]

MLS_PREFIX = b"MLS 1.0 "


@wire
class KDFLabel:
    """RFC 9420 8: the info of ExpandWithLabel."""

    length: U16
    label: bytes  # "MLS 1.0 " + Label
    context: bytes


@wire
class SignContent:
    """RFC 9420 5.1.2: what SignWithLabel signs."""

    label: bytes  # "MLS 1.0 " + Label
    content: bytes


@wire
class EncryptContext:
    """RFC 9420 5.1.3: the HPKE info of EncryptWithLabel."""

    label: bytes  # "MLS 1.0 " + Label
    context: bytes


@wire
class RefHashInput:
    """RFC 9420 5.2: what RefHash hashes (the label is used as given)."""

    label: bytes
    value: bytes


def _label(label: bytes | str) -> bytes:
    return MLS_PREFIX + (label.encode() if isinstance(label, str) else label)


# KDFLabel and SignContent end with an opaque<V> field that changes with
# every call, after fields that come from a few labels. Their encodings are
# built as the cached encoding with that last field empty (minus its one-byte
# length) followed by the field: the same bytes, without encoding the fixed
# part (and copying a large signed content) on every message.
@functools.lru_cache(maxsize=256)
def _kdf_label_prefix(label: bytes | str, length: int) -> bytes:
    return encode(KDFLabel, KDFLabel(length, _label(label), b""))[:-1]


@functools.lru_cache(maxsize=64)
def _sign_content_prefix(label: bytes | str) -> bytes:
    return encode(SignContent, SignContent(_label(label), b""))[:-1]


def _opaque_tail(data: bytes) -> bytes:
    """``opaque data<V>`` (RFC 9420 2.1.2)."""
    n = len(data)
    if n < 0x40:
        return bytes((n,)) + data
    head = bytearray()
    encode_varint(n, head)
    return bytes(head) + data


def _raw(label: bytes | str) -> bytes:
    return label.encode() if isinstance(label, str) else label


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class CipherSuite:
    """One MLS cipher suite. Get instances with ``get_suite``."""

    id: int
    name: str
    hash_cls: type[hashes.HashAlgorithm]
    kdf: Kdf
    aead: Aead
    hpke: Hpke
    signature: SignatureScheme
    hash_len: int  # Nh of the hash (for RFC 9420 suites, also the KDF's Nh)
    kdf_len: int  # KDF.Nh: the length DeriveSecret and the key schedule use
    aead_key_len: int
    aead_nonce_len: int

    def __repr__(self) -> str:
        return f"<CipherSuite 0x{self.id:04x} {self.name}>"

    # ---------------------------------------------------------------- hash, KDF

    def hash(self, data: bytes) -> bytes:
        h = hashes.Hash(self.hash_cls())
        h.update(data)
        return h.finalize()

    def kdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        return self.kdf.extract(salt, ikm)

    def kdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        return self.kdf.expand(prk, info, length)

    def expand_with_label(
        self, secret: bytes, label: bytes | str, context: bytes, length: int
    ) -> bytes:
        """RFC 9420 8: KDF.Expand(secret, KDFLabel, length)."""
        info = _kdf_label_prefix(label, length) + _opaque_tail(context)
        return self.kdf.expand(secret, info, length)

    def derive_secret(self, secret: bytes, label: bytes | str) -> bytes:
        """RFC 9420 8: ExpandWithLabel(secret, label, "", KDF.Nh)."""
        return self.expand_with_label(secret, label, b"", self.kdf_len)

    def derive_tree_secret(
        self, secret: bytes, label: bytes | str, generation: int, length: int
    ) -> bytes:
        """RFC 9420 9: ExpandWithLabel(secret, label, uint32 generation, length)."""
        return self.expand_with_label(secret, label, encode(U32, generation), length)

    def ref_hash(self, label: bytes | str, value: bytes) -> bytes:
        """RFC 9420 5.2: Hash(RefHashInput)."""
        return self.hash(encode(RefHashInput, RefHashInput(_raw(label), value)))

    def key_package_ref(self, key_package_bytes: bytes) -> bytes:
        """RFC 9420 5.2: the KeyPackageRef of an encoded KeyPackage."""
        return self.ref_hash(b"MLS 1.0 KeyPackage Reference", key_package_bytes)

    def proposal_ref(self, authenticated_content_bytes: bytes) -> bytes:
        """RFC 9420 5.2: the ProposalRef of an encoded AuthenticatedContent."""
        return self.ref_hash(b"MLS 1.0 Proposal Reference", authenticated_content_bytes)

    # ---------------------------------------------------------------- MAC, AEAD

    def mac(self, key: bytes, data: bytes) -> bytes:
        """RFC 9420 5.1: MAC is HMAC with the suite's hash."""
        h = hmac.HMAC(key, self.hash_cls())
        h.update(data)
        return h.finalize()

    def verify_mac(self, key: bytes, data: bytes, tag: bytes) -> None:
        h = hmac.HMAC(key, self.hash_cls())
        h.update(data)
        try:
            h.verify(tag)  # constant-time comparison in pyca
        except InvalidSignature:
            raise CryptoError("MAC does not verify") from None

    def aead_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        return self.aead.seal(key, nonce, aad, plaintext)

    def aead_decrypt(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        return self.aead.open(key, nonce, aad, ciphertext)

    # ---------------------------------------------------------------- signatures

    def generate_signature_key_pair(self) -> tuple[bytes, bytes]:
        return self.signature.generate()

    def signature_public_key(self, private: bytes) -> bytes:
        return self.signature.public_key(private)

    def sign_with_label(self, private: bytes, label: bytes | str, content: bytes) -> bytes:
        """RFC 9420 5.1.2 SignWithLabel."""
        return self.signature.sign(
            private, _sign_content_prefix(label) + _opaque_tail(content)
        )

    def verify_with_label(
        self, public: bytes, label: bytes | str, content: bytes, signature: bytes
    ) -> None:
        """RFC 9420 5.1.2 VerifyWithLabel; raises ``CryptoError`` when it fails."""
        self.signature.verify(
            public, _sign_content_prefix(label) + _opaque_tail(content), signature
        )

    # ---------------------------------------------------------------- HPKE

    def generate_hpke_key_pair(self) -> tuple[bytes, bytes]:
        return self.hpke.kem.generate_key_pair()

    def derive_hpke_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """RFC 9180 7.1.3 DeriveKeyPair (RFC 9420 uses it for node and external keys)."""
        return self.hpke.kem.derive_key_pair(ikm)

    def hpke_public_key(self, private: bytes) -> bytes:
        return self.hpke.kem.public_key(private)

    def encrypt_with_label(
        self, public: bytes, label: bytes | str, context: bytes, plaintext: bytes
    ) -> tuple[bytes, bytes]:
        """RFC 9420 5.1.3 EncryptWithLabel: ``(kem_output, ciphertext)``."""
        info = encode(EncryptContext, EncryptContext(_label(label), context))
        return self.hpke.seal(public, info, b"", plaintext)

    def encrypt_with_label_many(
        self,
        publics: Sequence[bytes],
        label: bytes | str,
        context: bytes,
        plaintexts: Sequence[bytes],
    ) -> list[tuple[bytes, bytes]]:
        """EncryptWithLabel to many recipients with one context, hashed once (RFC 9420 5.1.3)."""
        info = encode(EncryptContext, EncryptContext(_label(label), context))
        return self.hpke.seal_many(publics, info, b"", plaintexts)

    def decrypt_with_label(
        self,
        private: bytes,
        label: bytes | str,
        context: bytes,
        kem_output: bytes,
        ciphertext: bytes,
    ) -> bytes:
        """RFC 9420 5.1.3 DecryptWithLabel; raises ``CryptoError`` when it fails."""
        info = encode(EncryptContext, EncryptContext(_label(label), context))
        return self.hpke.open(private, kem_output, info, b"", ciphertext)

    def hpke_seal(
        self, public: bytes, info: bytes, aad: bytes, plaintext: bytes
    ) -> tuple[bytes, bytes]:
        """RFC 9180 6.1 SealBase: ``(kem_output, ciphertext)``; any aad."""
        return self.hpke.seal(public, info, aad, plaintext)

    def hpke_open(
        self, private: bytes, kem_output: bytes, info: bytes, aad: bytes, ciphertext: bytes
    ) -> bytes:
        """RFC 9180 6.1 OpenBase."""
        return self.hpke.open(private, kem_output, info, aad, ciphertext)

    def hpke_setup_base_s_export(
        self, public: bytes, info: bytes, exporter_context: bytes, length: int
    ) -> tuple[bytes, bytes]:
        """SetupBaseS then Export: ``(kem_output, exported)`` (RFC 9420 8.3 external init)."""
        return self.hpke.send_export(public, info, exporter_context, length)

    def hpke_setup_base_r_export(
        self,
        private: bytes,
        kem_output: bytes,
        info: bytes,
        exporter_context: bytes,
        length: int,
    ) -> bytes:
        """SetupBaseR then Export (RFC 9420 8.3 external init, the group's side)."""
        return self.hpke.receive_export(kem_output, private, info, exporter_context, length)


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


def _suite(
    suite_id: int, name: str, kem_id: int, kdf_id: int, aead_id: int, hash_name: str, sig: str
) -> CipherSuite:
    kdf, aead, hash_cls = KDFS[kdf_id], AEADS[aead_id], _HASHES[hash_name]
    return CipherSuite(
        id=suite_id,
        name=name,
        hash_cls=hash_cls,
        kdf=kdf,
        aead=aead,
        hpke=Hpke(KEMS[kem_id], kdf, aead),
        signature=SIGNATURE_SCHEMES[sig],
        hash_len=hash_cls().digest_size,
        kdf_len=kdf.nh,
        aead_key_len=aead.key_len,
        aead_nonce_len=aead.nonce_len,
    )


# (code point, name, HPKE KEM, HPKE KDF, AEAD, hash, signature)
_TABLE: tuple[tuple[int, str, int, int, int, str, str], ...] = (
    # RFC 9420 17.1
    (0x0001, "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", 0x0020, 1, 1, "SHA256", "Ed25519"),
    (0x0002, "MLS_128_DHKEMP256_AES128GCM_SHA256_P256", 0x0010, 1, 1, "SHA256", "P256"),
    (
        0x0003,
        "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
        0x0020,
        1,
        3,
        "SHA256",
        "Ed25519",
    ),
    (0x0004, "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448", 0x0021, 3, 2, "SHA512", "Ed448"),
    (0x0005, "MLS_256_DHKEMP521_AES256GCM_SHA512_P521", 0x0012, 3, 2, "SHA512", "P521"),
    (0x0006, "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448", 0x0021, 3, 3, "SHA512", "Ed448"),
    (0x0007, "MLS_256_DHKEMP384_AES256GCM_SHA384_P384", 0x0011, 2, 2, "SHA384", "P384"),
    # Post-quantum, as ts-mls 1.6.4 defines them (draft-ietf-mls-pq-ciphersuites code
    # points). ts-mls takes the MLS KDF and AEAD from the HPKE triple and the hash from
    # the suite, so 0x004F/0x0050 hash with SHA-384 but derive with HKDF-SHA512.
    # ML-KEM-512 (0x004D, 0x004E) is absent: pyca has no ML-KEM-512.
    (0x004F, "MLS_256_MLKEM768_AES256GCM_SHA384_Ed25519", 0x0041, 3, 2, "SHA384", "Ed25519"),
    (0x0050, "MLS_256_MLKEM768_CHACHA20POLY1305_SHA384_Ed25519", 0x0041, 3, 3, "SHA384", "Ed25519"),
    (0x0051, "MLS_256_MLKEM1024_AES256GCM_SHA512_Ed25519", 0x0042, 3, 2, "SHA512", "Ed25519"),
    (
        0x0052,
        "MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519",
        0x0042,
        3,
        3,
        "SHA512",
        "Ed25519",
    ),
    (0x0053, "MLS_256_XWING_AES256GCM_SHA512_Ed25519", 0x647A, 3, 2, "SHA512", "Ed25519"),
    (0x0054, "MLS_256_XWING_CHACHA20POLY1305_SHA512_Ed25519", 0x647A, 3, 3, "SHA512", "Ed25519"),
    (0x0055, "MLS_256_MLKEM1024_AES256GCM_SHA512_MLDSA87", 0x0042, 3, 2, "SHA512", "ML-DSA-87"),
    (
        0x0056,
        "MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_MLDSA87",
        0x0042,
        3,
        3,
        "SHA512",
        "ML-DSA-87",
    ),
    (0x0057, "MLS_256_XWING_AES256GCM_SHA512_MLDSA87", 0x647A, 3, 2, "SHA512", "ML-DSA-87"),
    (0x0058, "MLS_256_XWING_CHACHA20POLY1305_SHA512_MLDSA87", 0x647A, 3, 3, "SHA512", "ML-DSA-87"),
)

SUITES: dict[int, CipherSuite] = {row[0]: _suite(*row) for row in _TABLE}

# The RFC 9420 suites every member supports, and the post-quantum ones.
RFC9420_SUITES: tuple[int, ...] = tuple(range(1, 8))
PQ_SUITES: tuple[int, ...] = tuple(n for n in SUITES if n > 7)
DEFAULT_SUITE = 0x0001


def get_suite(n: int) -> CipherSuite:
    """The cipher suite with code point ``n``; unknown suites raise ``ValidationError``."""
    try:
        return SUITES[n]
    except KeyError:
        raise ValidationError(f"unsupported cipher suite 0x{n:04x}", "RFC 9420 17.1") from None


def clear_key_caches() -> None:
    """Forget every parsed key object the suites cache (signature and HPKE, private
    ones included), e.g. when a client profile locks. Keys are re-parsed on next use."""
    clear_signature_key_caches()
    _clear_hpke_caches()
