"""One sender ratchet of the secret tree (RFC 9420 9.1) and its stored form.

A ratchet is an immutable value: its current secret, the generation that
secret produces next, and the keys of generations it skipped over and still
keeps (at most ``keep``, the oldest go first). The tree that holds a pair of
ratchets per leaf, and the rules on which generations may be asked for, are
in ``secret_tree``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import IntEnum

from accord.errors import DecodeError, ValidationError
from accord.mls.codec import U32, WireStruct, wire
from accord.mls.suites import CipherSuite

__all__ = ["NO_SKIPPED", "RatchetKey", "RatchetState", "RatchetType", "SenderRatchet"]


class RatchetType(IntEnum):
    HANDSHAKE = 0
    APPLICATION = 1

    @classmethod
    def for_content_type(cls, content_type: int) -> RatchetType:
        # RFC 9420 6.3.1: proposals and commits use the handshake ratchet.
        if content_type == 1:
            return cls.APPLICATION
        if content_type in (2, 3):
            return cls.HANDSHAKE
        raise ValidationError(f"content type {content_type} has no ratchet", "RFC 9420 6.3.1")


@dataclasses.dataclass(frozen=True, slots=True)
class RatchetKey:
    """The AEAD key and nonce of one generation of one sender ratchet."""

    generation: int
    key: bytes
    nonce: bytes

    def __repr__(self) -> str:
        return f"RatchetKey(generation={self.generation}, key=<{len(self.key)} bytes>)"


NO_SKIPPED: Mapping[int, tuple[bytes, bytes]] = {}


def _step(suite: CipherSuite, secret: bytes, g: int) -> tuple[bytes, bytes, bytes]:
    """(key, nonce, next secret) of ratchet_secret_[g] (9.1)."""
    # DeriveTreeSecret(s, label, g, n) is ExpandWithLabel(s, label, uint32(g), n):
    # encode the generation once for the three derivations.
    ewl, ctx = suite.expand_with_label, g.to_bytes(4, "big")
    return (
        ewl(secret, "key", ctx, suite.aead_key_len),
        ewl(secret, "nonce", ctx, suite.aead_nonce_len),
        ewl(secret, "secret", ctx, suite.kdf_len),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class SenderRatchet:
    generation: int  # the generation ``secret`` produces next
    secret: bytes  # ratchet_secret_[N]_[generation]
    skipped: Mapping[int, tuple[bytes, bytes]]  # generation -> (key, nonce), ascending

    def __repr__(self) -> str:
        return f"SenderRatchet(generation={self.generation}, skipped={len(self.skipped)})"

    def next(self, suite: CipherSuite) -> tuple[RatchetKey, SenderRatchet]:
        """The key of the current generation and the ratchet one step on."""
        g = self.generation
        key, nonce, nxt = _step(suite, self.secret, g)
        return RatchetKey(g, key, nonce), SenderRatchet(g + 1, nxt, self.skipped)

    def take_skipped(self, generation: int) -> tuple[RatchetKey, SenderRatchet] | None:
        """The kept key of a skipped ``generation`` and the ratchet without it."""
        kn = self.skipped.get(generation)
        if kn is None:
            return None
        skipped = dict(self.skipped)
        del skipped[generation]
        return RatchetKey(generation, *kn), SenderRatchet(self.generation, self.secret, skipped)

    def forward_to(
        self, suite: CipherSuite, target: int, keep: int
    ) -> tuple[RatchetKey, SenderRatchet]:
        """The key of ``target`` (not behind the ratchet), keeping at most ``keep``
        keys of the generations skipped over."""
        secret, g = self.secret, self.generation
        # Keys of skipped generations that would be evicted at once are never derived.
        first_kept = max(g, target - keep)
        while g < first_kept:
            secret = suite.derive_tree_secret(secret, "secret", g, suite.kdf_len)
            g += 1
        skipped: dict[int, tuple[bytes, bytes]] | Mapping[int, tuple[bytes, bytes]] = self.skipped
        if g < target:
            skipped = dict(self.skipped)
            while g < target:
                key, nonce, secret = _step(suite, secret, g)
                skipped[g] = (key, nonce)
                g += 1
            excess = len(skipped) - keep
            if excess > 0:
                for old in sorted(skipped)[:excess]:
                    del skipped[old]
        key, nonce, secret = _step(suite, secret, target)
        return RatchetKey(target, key, nonce), SenderRatchet(target + 1, secret, skipped)

    # ---- stored form

    def state(self) -> RatchetState:
        return RatchetState(
            self.generation,
            self.secret,
            tuple(_SkippedKey(g, k, n) for g, (k, n) in sorted(self.skipped.items())),
        )

    @classmethod
    def from_state(cls, rs: RatchetState, suite: CipherSuite, keep: int) -> SenderRatchet:
        """A ratchet from its stored form, checked against the suite and ``keep``."""
        if len(rs.secret) != suite.kdf_len:
            raise DecodeError("bad ratchet secret length in secret tree state")
        if len(rs.skipped) > keep:
            raise DecodeError("more skipped keys than the state allows")
        last = -1
        for s in rs.skipped:
            if not last < s.generation < rs.generation:
                raise DecodeError("skipped generations out of order in secret tree state")
            if len(s.key) != suite.aead_key_len or len(s.nonce) != suite.aead_nonce_len:
                raise DecodeError("bad skipped key in secret tree state")
            last = s.generation
        skipped = {s.generation: (s.key, s.nonce) for s in rs.skipped}
        return cls(rs.generation, rs.secret, skipped or NO_SKIPPED)


# Serialized form (Accord's own, not an RFC structure)


@wire
class _SkippedKey(WireStruct):
    generation: U32
    key: bytes
    nonce: bytes

    def __repr__(self) -> str:
        return f"_SkippedKey(generation={self.generation})"


@wire
class RatchetState(WireStruct):
    generation: U32
    secret: bytes
    skipped: tuple[_SkippedKey, ...]

    def __repr__(self) -> str:
        return f"RatchetState(generation={self.generation})"
