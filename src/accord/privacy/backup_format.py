"""Encrypted backups under a recovery key only the user holds (T17), sans-I/O.

Recovery key: 160 random bits plus a 16-bit checksum, written as 36
characters of Crockford base32 in nine groups of four
(``7K2Q-...``); a person copies it once. Reading is forgiving (case,
spaces, dashes, ``O``/``I``/``L`` for ``0``/``1``/``1``) and the checksum
catches a mistyped key before any decryption is tried.

Sealed backup::

    "ACCORD-BACKUP" || 0x01 || t (4) || m KiB (4) || p (4) || salt (16) || nonce (12)
    || AES-256-GCM(key, nonce, pad(plaintext), aad = everything before it)

with ``key = Argon2id(recovery key bits, salt, t, m, p)``. The plaintext is
padded to ``accord.content`` buckets, so the provider learns only a bucket.
A wrong key (or a changed byte) fails the AEAD check: :class:`WrongRecoveryKey`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.content import pad, unpad
from accord.errors import CryptoError, DecodeError, ValidationError

MAGIC = b"ACCORD-BACKUP\x01"
KEY_BITS = 160
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_READ = {c: i for i, c in enumerate(_ALPHABET)} | {"O": 0, "I": 1, "L": 1}
_HEADER = len(MAGIC) + 12 + 16 + 12
MAX_PLAINTEXT = 1 << 30


class WrongRecoveryKey(CryptoError):
    """The recovery key does not open this backup (or the backup was changed)."""

    code = "wrong_recovery_key"


@dataclass(frozen=True, slots=True)
class KdfCost:
    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1


def _b32(data: bytes) -> str:
    n, bits = int.from_bytes(data, "big"), len(data) * 8
    chars = -(-bits // 5)
    n <<= chars * 5 - bits
    return "".join(_ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(chars)))


def new_recovery_key(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh recovery key, in groups of four for a person to copy."""
    raw = random_bytes(KEY_BITS // 8)
    if len(raw) != KEY_BITS // 8:
        raise ValidationError("the random source gave too few bytes")
    text = _b32(raw + hashlib.sha256(raw).digest()[:2])
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes:
    """The 160 key bits of a typed recovery key; ``DecodeError`` for a mistyped one."""
    chars = [c for c in text.upper() if c not in " -\t\n"]
    if len(chars) != 36 or any(c not in _READ for c in chars):
        raise DecodeError("a recovery key is 36 letters and digits (nine groups of four)")
    n = 0
    for c in chars:
        n = (n << 5) | _READ[c]
    if n & 0xF:
        raise DecodeError("this recovery key has a typo (its last character)")
    data = (n >> 4).to_bytes(22, "big")  # 180 bits carry 176
    raw, check = data[:20], data[20:]
    if hashlib.sha256(raw).digest()[:2] != check:
        raise DecodeError("this recovery key has a typo (its checksum does not match)")
    return raw


def _key(raw: bytes, salt: bytes, cost: KdfCost) -> bytes:
    return hash_secret_raw(raw, salt, time_cost=cost.time_cost, memory_cost=cost.memory_kib,
                           parallelism=cost.parallelism, hash_len=32, type=Type.ID)


def seal_backup(recovery_key: str, plaintext: bytes, random_bytes: Callable[[int], bytes],
                cost: KdfCost | None = None) -> bytes:
    cost = cost or KdfCost()
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValidationError("the backup is too large")
    salt, nonce = random_bytes(16), random_bytes(12)
    header = (MAGIC + cost.time_cost.to_bytes(4, "big") + cost.memory_kib.to_bytes(4, "big")
              + cost.parallelism.to_bytes(4, "big") + salt + nonce)
    key = _key(parse_recovery_key(recovery_key), salt, cost)
    return header + AESGCM(key).encrypt(nonce, pad(plaintext), header)


def open_backup(recovery_key: str, sealed: bytes, max_memory_kib: int = 1 << 20) -> bytes:
    """The backup's plaintext; ``WrongRecoveryKey`` when the key does not open it."""
    if len(sealed) < _HEADER + 16 or not sealed.startswith(MAGIC):
        raise DecodeError("this is not an Accord backup")
    p = len(MAGIC)
    t, m, par = (int.from_bytes(sealed[p + i:p + i + 4], "big") for i in (0, 4, 8))
    if not (1 <= t <= 20 and 8 <= m <= max_memory_kib and 1 <= par <= 16):
        raise DecodeError("the backup asks for key-stretching costs out of bounds")
    salt, nonce = sealed[p + 12:p + 28], sealed[p + 28:p + 40]
    key = _key(parse_recovery_key(recovery_key), salt, KdfCost(t, m, par))
    try:
        padded = AESGCM(key).decrypt(nonce, sealed[_HEADER:], sealed[:_HEADER])
    except InvalidTag:
        raise WrongRecoveryKey("this recovery key does not open this backup") from None
    return unpad(padded)
