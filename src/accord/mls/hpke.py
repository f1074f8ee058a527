"""HPKE base mode (RFC 9180) composed from pyca/cryptography primitives.

pyca ships a one-shot HPKE (``cryptography.hazmat.primitives.hpke``) that takes
neither additional data nor exporter contexts and has no X448 KEM. MLS needs
all three: ``SealBase``/``OpenBase`` with a caller's ``aad`` (RFC 9420 5.1.3
uses ``""``, other users do not), the exporter for external init (RFC 9420
8.3) and DHKEM(X448) for suites 4 and 6. So this module implements the RFC
9180 key schedule for ``mode_base`` over pyca's HMAC, HKDF and AEADs, and the
KEMs in ``accord.mls.hpke_kem`` plug into it. When pyca's one-shot can do the
job (no aad, a KEM it knows), ``Hpke.seal``/``Hpke.open`` use it: it is the
same computation in native code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from accord.errors import CryptoError

__all__ = ["Aead", "Context", "Hpke", "Kdf", "Kem", "AEADS", "KDFS"]

HPKE_V1 = b"HPKE-v1"
MODE_BASE = b"\x00"  # RFC 9180 5.1, Table 1


class Kdf:
    """HKDF over one pyca hash (RFC 5869), plus RFC 9180 4's labeled forms."""

    __slots__ = ("kdf_id", "name", "hash_cls", "nh", "_zero_salt")

    def __init__(self, kdf_id: int, name: str, hash_cls: type[hashes.HashAlgorithm]) -> None:
        self.kdf_id = kdf_id
        self.name = name
        self.hash_cls = hash_cls
        self.nh: int = hash_cls().digest_size
        self._zero_salt = b"\x00" * self.nh

    def extract(self, salt: bytes, ikm: bytes) -> bytes:
        # RFC 5869 2.2: an absent salt is Nh zero octets.
        h = hmac.HMAC(salt or self._zero_salt, self.hash_cls())
        h.update(ikm)
        return h.finalize()

    def expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        if length > 255 * self.nh:
            raise ValueError(f"HKDF-Expand length {length} exceeds 255 * {self.nh}")
        return HKDFExpand(self.hash_cls(), length, info).derive(prk)

    def labeled_extract(self, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        # RFC 9180 4: labeled_ikm = "HPKE-v1" || suite_id || label || ikm
        return self.extract(salt, HPKE_V1 + suite_id + label + ikm)

    def labeled_expand(
        self, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int
    ) -> bytes:
        # RFC 9180 4: labeled_info = I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info
        labeled_info = length.to_bytes(2, "big") + HPKE_V1 + suite_id + label + info
        return self.expand(prk, labeled_info, length)


KDFS: dict[int, Kdf] = {
    0x0001: Kdf(0x0001, "HKDF-SHA256", hashes.SHA256),
    0x0002: Kdf(0x0002, "HKDF-SHA384", hashes.SHA384),
    0x0003: Kdf(0x0003, "HKDF-SHA512", hashes.SHA512),
}


class Aead:
    """One AEAD of RFC 9180 7.3 (and RFC 9420 5.1's message AEAD)."""

    __slots__ = ("aead_id", "name", "key_len", "nonce_len", "tag_len", "_factory")

    def __init__(
        self, aead_id: int, name: str, key_len: int, factory: Callable[[bytes], Any]
    ) -> None:
        self.aead_id = aead_id
        self.name = name
        self.key_len = key_len
        self.nonce_len = 12
        self.tag_len = 16
        self._factory = factory

    def _cipher(self, key: bytes) -> Any:
        if len(key) != self.key_len:
            raise CryptoError(f"{self.name} key must be {self.key_len} bytes, got {len(key)}")
        return self._factory(key)

    def seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        if len(nonce) != self.nonce_len:
            raise CryptoError(f"{self.name} nonce must be {self.nonce_len} bytes")
        out: bytes = self._cipher(key).encrypt(nonce, plaintext, aad)
        return out

    def open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if len(nonce) != self.nonce_len:
            raise CryptoError(f"{self.name} nonce must be {self.nonce_len} bytes")
        if len(ciphertext) < self.tag_len:
            raise CryptoError(f"{self.name} ciphertext shorter than its tag")
        try:
            out: bytes = self._cipher(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise CryptoError(f"{self.name}: authentication tag does not verify") from None
        return out


AEADS: dict[int, Aead] = {
    0x0001: Aead(0x0001, "AES-128-GCM", 16, AESGCM),
    0x0002: Aead(0x0002, "AES-256-GCM", 32, AESGCM),
    0x0003: Aead(0x0003, "ChaCha20Poly1305", 32, ChaCha20Poly1305),
}

_PYCA_KDF = {
    0x0001: pyca_hpke.KDF.HKDF_SHA256,
    0x0002: pyca_hpke.KDF.HKDF_SHA384,
    0x0003: pyca_hpke.KDF.HKDF_SHA512,
}
_PYCA_AEAD = {
    0x0001: pyca_hpke.AEAD.AES_128_GCM,
    0x0002: pyca_hpke.AEAD.AES_256_GCM,
    0x0003: pyca_hpke.AEAD.CHACHA20_POLY1305,
}


class Kem(Protocol):
    """What the key schedule needs from a KEM (RFC 9180 4)."""

    kem_id: int
    name: str
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int
    pyca_kem: Any  # the pyca one-shot KEM, or None when pyca lacks it

    def generate_key_pair(self) -> tuple[bytes, bytes]: ...
    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]: ...
    def public_key(self, sk: bytes) -> bytes: ...
    def encap(self, pk: bytes, ikm_e: bytes | None = None) -> tuple[bytes, bytes]: ...
    def decap(self, enc: bytes, sk: bytes) -> bytes: ...
    def pyca_private(self, sk: bytes) -> Any: ...
    def pyca_public(self, pk: bytes) -> Any: ...


class Context:
    """An HPKE encryption context (RFC 9180 5.2): key, base nonce, sequence, exporter."""

    __slots__ = ("_aead", "_kdf", "_suite_id", "_key", "_base_nonce", "_exporter", "_seq")

    def __init__(
        self,
        aead: Aead,
        kdf: Kdf,
        suite_id: bytes,
        key: bytes,
        base_nonce: bytes,
        exporter_secret: bytes,
    ) -> None:
        self._aead = aead
        self._kdf = kdf
        self._suite_id = suite_id
        self._key = key
        self._base_nonce = base_nonce
        self._exporter = exporter_secret
        self._seq = 0

    def __repr__(self) -> str:  # never show key material
        return f"<hpke.Context {self._aead.name} seq={self._seq}>"

    def _next_nonce(self) -> bytes:
        # RFC 9180 5.2: nonce = base_nonce XOR I2OSP(seq, Nn); seq must not wrap.
        if self._seq >= (1 << (8 * self._aead.nonce_len)) - 1:
            raise CryptoError("HPKE message limit reached (RFC 9180 5.2)")
        n = int.from_bytes(self._base_nonce, "big") ^ self._seq
        return n.to_bytes(self._aead.nonce_len, "big")

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        ct = self._aead.seal(self._key, self._next_nonce(), aad, plaintext)
        self._seq += 1
        return ct

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        pt = self._aead.open(self._key, self._next_nonce(), aad, ciphertext)
        self._seq += 1
        return pt

    def export(self, exporter_context: bytes, length: int) -> bytes:
        # RFC 9180 5.3: Export = LabeledExpand(exporter_secret, "sec", ctx, L)
        return self._kdf.labeled_expand(
            self._suite_id, self._exporter, b"sec", exporter_context, length
        )


class Hpke:
    """One HPKE ciphersuite (KEM, KDF, AEAD) in mode_base."""

    __slots__ = ("kem", "kdf", "aead", "suite_id", "_pyca_suite")

    def __init__(self, kem: Kem, kdf: Kdf, aead: Aead) -> None:
        self.kem = kem
        self.kdf = kdf
        self.aead = aead
        # RFC 9180 5.1: suite_id = "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)
        self.suite_id = (
            b"HPKE"
            + kem.kem_id.to_bytes(2, "big")
            + kdf.kdf_id.to_bytes(2, "big")
            + aead.aead_id.to_bytes(2, "big")
        )
        self._pyca_suite: Any = None
        if kem.pyca_kem is not None:
            self._pyca_suite = pyca_hpke.Suite(
                kem.pyca_kem, _PYCA_KDF[kdf.kdf_id], _PYCA_AEAD[aead.aead_id]
            )

    def key_schedule(self, shared_secret: bytes, info: bytes) -> Context:
        """RFC 9180 5.1 KeySchedule for mode_base (empty psk and psk_id)."""
        info_hash = self.kdf.labeled_extract(self.suite_id, b"", b"info_hash", info)
        return self._key_schedule_hashed(shared_secret, info_hash)

    def _key_schedule_hashed(self, shared_secret: bytes, info_hash: bytes) -> Context:
        k, sid = self.kdf, self.suite_id
        psk_id_hash = k.labeled_extract(sid, b"", b"psk_id_hash", b"")
        ks_context = MODE_BASE + psk_id_hash + info_hash
        secret = k.labeled_extract(sid, shared_secret, b"secret", b"")
        key = k.labeled_expand(sid, secret, b"key", ks_context, self.aead.key_len)
        base_nonce = k.labeled_expand(sid, secret, b"base_nonce", ks_context, self.aead.nonce_len)
        exporter = k.labeled_expand(sid, secret, b"exp", ks_context, k.nh)
        return Context(self.aead, k, sid, key, base_nonce, exporter)

    def setup_base_s(
        self, pk: bytes, info: bytes, ikm_e: bytes | None = None
    ) -> tuple[bytes, Context]:
        """RFC 9180 5.1.1 SetupBaseS; ``ikm_e`` fixes the ephemeral key (tests only)."""
        shared_secret, enc = self.kem.encap(pk, ikm_e)
        return enc, self.key_schedule(shared_secret, info)

    def setup_base_r(self, enc: bytes, sk: bytes, info: bytes) -> Context:
        """RFC 9180 5.1.1 SetupBaseR."""
        return self.key_schedule(self.kem.decap(enc, sk), info)

    def seal(self, pk: bytes, info: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
        """RFC 9180 6.1 single-shot SealBase: ``(enc, ciphertext)``."""
        if not aad and self._pyca_suite is not None:
            try:
                out: bytes = self._pyca_suite.encrypt(
                    plaintext, self.kem.pyca_public(pk), info=info
                )
            except ValueError as exc:
                raise CryptoError(f"HPKE seal ({self.kem.name}) failed: {exc}") from None
            n = self.kem.n_enc
            return out[:n], out[n:]
        enc, ctx = self.setup_base_s(pk, info)
        return enc, ctx.seal(aad, plaintext)

    def seal_many(
        self, pks: Sequence[bytes], info: bytes, aad: bytes, plaintexts: Sequence[bytes]
    ) -> list[tuple[bytes, bytes]]:
        """SealBase of ``plaintexts[i]`` to ``pks[i]``, all with one ``info``.

        RFC 9180 5.1: info enters the key schedule only as info_hash, so it is
        hashed once for all recipients. MLS needs this for Welcome messages,
        whose info holds the encrypted GroupInfo (with the whole ratchet tree)
        and is the same for every new member (RFC 9420 12.4.3.1).
        """
        info_hash = self.kdf.labeled_extract(self.suite_id, b"", b"info_hash", info)
        out = []
        for pk, plaintext in zip(pks, plaintexts, strict=True):
            shared_secret, enc = self.kem.encap(pk)
            out.append((enc, self._key_schedule_hashed(shared_secret, info_hash).seal(aad, plaintext)))
        return out

    def open(self, sk: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """RFC 9180 6.1 single-shot OpenBase; a failed KEM or tag raises ``CryptoError``."""
        if len(enc) != self.kem.n_enc:
            raise CryptoError(f"{self.kem.name} kem_output must be {self.kem.n_enc} bytes")
        if not aad and self._pyca_suite is not None:
            try:
                out: bytes = self._pyca_suite.decrypt(
                    enc + ciphertext, self.kem.pyca_private(sk), info=info
                )
            except (InvalidTag, ValueError) as exc:
                raise CryptoError(
                    f"HPKE open ({self.kem.name}) failed: {exc or 'bad tag'}"
                ) from None
            return out
        return self.setup_base_r(enc, sk, info).open(aad, ciphertext)

    def send_export(
        self, pk: bytes, info: bytes, exporter_context: bytes, length: int
    ) -> tuple[bytes, bytes]:
        """RFC 9180 6.2 SendExport (base mode): ``(enc, exported_secret)``."""
        enc, ctx = self.setup_base_s(pk, info)
        return enc, ctx.export(exporter_context, length)

    def receive_export(
        self, enc: bytes, sk: bytes, info: bytes, exporter_context: bytes, length: int
    ) -> bytes:
        """RFC 9180 6.2 ReceiveExport (base mode)."""
        if len(enc) != self.kem.n_enc:
            raise CryptoError(f"{self.kem.name} kem_output must be {self.kem.n_enc} bytes")
        return self.setup_base_r(enc, sk, info).export(exporter_context, length)
