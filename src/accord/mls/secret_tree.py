"""The secret tree and its sender ratchets: RFC 9420 section 9, plus 6.3.2.

A ``SecretTree`` is an immutable value. Taking a key returns the key and the
tree that remains after that key is consumed, so a caller who fails to
decrypt simply keeps the old tree, and the group state can hold a tree and
serialize it (``to_bytes`` / ``from_bytes``).

Secrets are derived lazily: the first key of a leaf walks from the nearest
stored ancestor down to that leaf only, keeping the secrets of the siblings it
passes and deleting the ones it consumed (9.2). Each leaf then holds two
ratchets (handshake and application) whose current secret and generation are
kept, so the common case of the next in-order message costs three
DeriveTreeSecret calls.

Out-of-order delivery is bounded: a message may be at most
``max_forward_distance`` generations ahead of a ratchet, and at most
``max_skipped_keys`` keys skipped over are kept per ratchet (the oldest go
first). Asking for a key that was used, skipped and evicted, or is beyond
the window raises a ``SecretTreeError``. The reuse guard of 6.3.1 is the
caller's job.

Keys are held in chunked maps: an update copies one chunk of 64 entries and
the chunk index, never the whole tree, so trees of 10,000 leaves stay cheap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import IntEnum
from typing import TypeVar

from accord.errors import DecodeError, ValidationError
from accord.mls import tree_math
from accord.mls.codec import U8, U16, U32, WireStruct, wire
from accord.mls.suites import CipherSuite, get_suite

__all__ = [
    "DEFAULT_MAX_FORWARD_DISTANCE",
    "DEFAULT_MAX_SKIPPED_KEYS",
    "GenerationTooFarAhead",
    "GenerationUnavailable",
    "RatchetKey",
    "RatchetType",
    "SecretTree",
    "SecretTreeError",
    "sender_data_key_nonce",
]

DEFAULT_MAX_FORWARD_DISTANCE = 1000
DEFAULT_MAX_SKIPPED_KEYS = 128
MAX_GENERATION = (1 << 32) - 1  # generations are uint32 (9.1)


class SecretTreeError(ValidationError):
    """A key the secret tree cannot, or may no longer, give out."""

    def __init__(self, message: str, rule: str = "RFC 9420 9.2") -> None:
        super().__init__(message, rule)


class GenerationTooFarAhead(SecretTreeError):
    """The generation is further ahead than the configured forward window."""


class GenerationUnavailable(SecretTreeError):
    """The key was already used, or was skipped and has since been deleted."""


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


# --------------------------------------------------------------------------
# Chunked persistent maps: dict[chunk number, dict[key, value]], never mutated

V = TypeVar("V")
_CHUNK = 6
PMap = Mapping[int, Mapping[int, V]]


def _pm_get(m: PMap[V], k: int) -> V | None:
    chunk = m.get(k >> _CHUNK)
    return None if chunk is None else chunk.get(k)


def _pm_set(m: PMap[V], k: int, v: V) -> PMap[V]:
    chunk = dict(m.get(k >> _CHUNK, {}))
    chunk[k] = v
    out = dict(m)
    out[k >> _CHUNK] = chunk
    return out


def _pm_del(m: PMap[V], k: int) -> PMap[V]:
    chunk = dict(m[k >> _CHUNK])
    del chunk[k]
    out = dict(m)
    if chunk:
        out[k >> _CHUNK] = chunk
    else:
        del out[k >> _CHUNK]
    return out


def _pm_items(m: PMap[V]) -> list[tuple[int, V]]:
    return sorted((k, v) for chunk in m.values() for k, v in chunk.items())


def _pm_from(items: list[tuple[int, V]]) -> PMap[V]:
    out: dict[int, dict[int, V]] = {}
    for k, v in items:
        out.setdefault(k >> _CHUNK, {})[k] = v
    return out


# --------------------------------------------------------------------------
# One sender ratchet (9.1)


@dataclasses.dataclass(frozen=True, slots=True)
class _Ratchet:
    generation: int  # the generation ``secret`` produces next
    secret: bytes  # ratchet_secret_[N]_[generation]
    skipped: Mapping[int, tuple[bytes, bytes]]  # generation -> (key, nonce), ascending

    def __repr__(self) -> str:
        return f"_Ratchet(generation={self.generation}, skipped={len(self.skipped)})"


_NO_SKIPPED: Mapping[int, tuple[bytes, bytes]] = {}


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


def _advance(suite: CipherSuite, secret: bytes, g: int) -> bytes:
    return suite.derive_tree_secret(secret, "secret", g, suite.kdf_len)


# --------------------------------------------------------------------------
# The tree


@dataclasses.dataclass(frozen=True, slots=True)
class SecretTree:
    """The secret tree of one epoch; see the module docstring."""

    cipher_suite: int
    n_leaves: int
    max_forward_distance: int
    max_skipped_keys: int
    # node index -> tree_node_[N]_secret, for nodes derived but not yet consumed
    _nodes: PMap[bytes] = dataclasses.field(repr=False)
    # leaf index -> (handshake ratchet, application ratchet)
    _ratchets: PMap[tuple[_Ratchet, _Ratchet]] = dataclasses.field(repr=False)
    _suite: CipherSuite = dataclasses.field(repr=False, compare=False)

    @classmethod
    def create(
        cls,
        suite: CipherSuite,
        encryption_secret: bytes,
        n_leaves: int,
        *,
        max_forward_distance: int = DEFAULT_MAX_FORWARD_DISTANCE,
        max_skipped_keys: int = DEFAULT_MAX_SKIPPED_KEYS,
    ) -> SecretTree:
        """A tree rooted at ``encryption_secret`` for ``n_leaves`` leaves (9)."""
        if n_leaves < 1:
            raise ValidationError("a secret tree needs at least one leaf", "RFC 9420 9")
        if max_forward_distance < 0 or max_skipped_keys < 0:
            raise ValueError("window sizes must not be negative")
        if len(encryption_secret) != suite.kdf_len:
            raise ValidationError("encryption_secret must be KDF.Nh bytes", "RFC 9420 8")
        nodes = _pm_from([(tree_math.root(n_leaves), bytes(encryption_secret))])
        return cls(
            suite.id,
            n_leaves,
            max_forward_distance,
            max_skipped_keys,
            nodes,
            {},
            suite,
        )

    # ---- deriving a leaf's ratchets (9)

    def _leaf_ratchets(
        self, leaf: int
    ) -> tuple[tuple[_Ratchet, _Ratchet], PMap[bytes], PMap[tuple[_Ratchet, _Ratchet]]]:
        if not 0 <= leaf < self.n_leaves:
            raise ValidationError(
                f"leaf {leaf} is outside a tree of {self.n_leaves} leaves", "RFC 9420 9"
            )
        found = _pm_get(self._ratchets, leaf)
        if found is not None:
            return found, self._nodes, self._ratchets
        n, nodes = self.n_leaves, self._nodes
        # Climb to the nearest ancestor whose secret is still stored.
        x = tree_math.leaf_to_node(leaf)
        path = [x]
        secret = _pm_get(nodes, x)
        while secret is None:
            if x == tree_math.root(n):
                raise GenerationUnavailable(f"the secrets of leaf {leaf} are gone")
            x = tree_math.parent(x, n)
            path.append(x)
            secret = _pm_get(nodes, x)
        nodes = _pm_del(nodes, x)
        suite = self._suite
        ewl, nh = suite.expand_with_label, suite.kdf_len
        # Walk down; keep each sibling's secret, consume the ones on the path.
        for child in reversed(path[:-1]):
            left_child = tree_math.left(x)
            left_secret = ewl(secret, "tree", b"left", nh)
            right_secret = ewl(secret, "tree", b"right", nh)
            if child == left_child:
                nodes = _pm_set(nodes, tree_math.right(x, n), right_secret)
                secret = left_secret
            else:
                nodes = _pm_set(nodes, left_child, left_secret)
                secret = right_secret
            x = child
        pair = (
            _Ratchet(0, ewl(secret, "handshake", b"", nh), _NO_SKIPPED),
            _Ratchet(0, ewl(secret, "application", b"", nh), _NO_SKIPPED),
        )
        return pair, nodes, _pm_set(self._ratchets, leaf, pair)

    def _with(
        self,
        leaf: int,
        kind: RatchetType,
        pair: tuple[_Ratchet, _Ratchet],
        ratchet: _Ratchet,
        nodes: PMap[bytes],
        ratchets: PMap[tuple[_Ratchet, _Ratchet]],
    ) -> SecretTree:
        new_pair = (ratchet, pair[1]) if kind == RatchetType.HANDSHAKE else (pair[0], ratchet)
        return SecretTree(
            self.cipher_suite,
            self.n_leaves,
            self.max_forward_distance,
            self.max_skipped_keys,
            nodes,
            _pm_set(ratchets, leaf, new_pair),
            self._suite,
        )

    # ---- public operations

    def next_key(self, leaf: int, kind: RatchetType) -> tuple[RatchetKey, SecretTree]:
        """The sender's next key for ``leaf`` and the tree without it (9.1, 9.2)."""
        pair, nodes, ratchets = self._leaf_ratchets(leaf)
        r = pair[kind]
        g = r.generation
        if g >= MAX_GENERATION:
            raise GenerationUnavailable("the sender ratchet is exhausted", "RFC 9420 9.1")
        key, nonce, nxt = _step(self._suite, r.secret, g)
        tree = self._with(leaf, kind, pair, _Ratchet(g + 1, nxt, r.skipped), nodes, ratchets)
        return RatchetKey(g, key, nonce), tree

    def key_for(
        self, leaf: int, kind: RatchetType, generation: int
    ) -> tuple[RatchetKey, SecretTree]:
        """The key of ``generation`` for a received message, and the tree without it.

        Keep the returned tree only once the message has decrypted (9.2).
        """
        if not 0 <= generation < MAX_GENERATION:
            raise ValidationError(f"generation {generation} is not a uint32", "RFC 9420 9.1")
        pair, nodes, ratchets = self._leaf_ratchets(leaf)
        r = pair[kind]
        if generation < r.generation:
            kn = r.skipped.get(generation)
            if kn is None:
                raise GenerationUnavailable(
                    f"the key of generation {generation} was used or deleted"
                )
            skipped = dict(r.skipped)
            del skipped[generation]
            ratchet = _Ratchet(r.generation, r.secret, skipped)
            return RatchetKey(generation, *kn), self._with(
                leaf, kind, pair, ratchet, nodes, ratchets
            )
        distance = generation - r.generation
        if distance > self.max_forward_distance:
            raise GenerationTooFarAhead(
                f"generation {generation} is {distance} ahead of the ratchet "
                f"(at most {self.max_forward_distance})"
            )
        ratchet, kn = self._ratchet_to(r, generation)
        return RatchetKey(generation, *kn), self._with(leaf, kind, pair, ratchet, nodes, ratchets)

    def _ratchet_to(self, r: _Ratchet, target: int) -> tuple[_Ratchet, tuple[bytes, bytes]]:
        suite = self._suite
        secret, g = r.secret, r.generation
        keep = self.max_skipped_keys
        # Keys of skipped generations that would be evicted at once are never derived.
        first_kept = max(g, target - keep)
        while g < first_kept:
            secret = _advance(suite, secret, g)
            g += 1
        skipped: dict[int, tuple[bytes, bytes]] | Mapping[int, tuple[bytes, bytes]] = r.skipped
        if g < target:
            skipped = dict(r.skipped)
            while g < target:
                key, nonce, secret = _step(suite, secret, g)
                skipped[g] = (key, nonce)
                g += 1
            excess = len(skipped) - keep
            if excess > 0:
                for old in sorted(skipped)[:excess]:
                    del skipped[old]
        key, nonce, secret = _step(suite, secret, target)
        return _Ratchet(target + 1, secret, skipped), (key, nonce)

    def generation(self, leaf: int, kind: RatchetType) -> int:
        """The next generation the ratchet of ``leaf`` would hand out."""
        found = _pm_get(self._ratchets, leaf)
        return 0 if found is None else found[kind].generation

    # ---- serialization

    def to_bytes(self) -> bytes:
        nodes = tuple(_NodeState(k, v) for k, v in _pm_items(self._nodes))
        leaves = tuple(
            _LeafState(leaf, _ratchet_state(pair[0]), _ratchet_state(pair[1]))
            for leaf, pair in _pm_items(self._ratchets)
        )
        state = _TreeState(
            _STATE_VERSION,
            self.cipher_suite,
            self.n_leaves,
            self.max_forward_distance,
            self.max_skipped_keys,
            nodes,
            leaves,
        )
        data: bytes = state.to_bytes()
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretTree:
        st: _TreeState = _TreeState.from_bytes(data)
        if st.version != _STATE_VERSION:
            raise DecodeError(f"unknown secret tree state version {st.version}")
        suite = get_suite(st.cipher_suite)
        if st.n_leaves < 1:
            raise DecodeError("secret tree state without leaves")
        width, nh = tree_math.node_width(st.n_leaves), suite.kdf_len
        last = -1
        for ns in st.nodes:
            if not last < ns.node < width or len(ns.secret) != nh:
                raise DecodeError("bad node in secret tree state")
            last = ns.node
        last = -1
        for ls in st.leaves:
            if not last < ls.leaf < st.n_leaves:
                raise DecodeError("bad leaf in secret tree state")
            last = ls.leaf
            for rs in (ls.handshake, ls.application):
                _check_ratchet_state(rs, suite, st.max_skipped_keys)
        return cls(
            st.cipher_suite,
            st.n_leaves,
            st.max_forward_distance,
            st.max_skipped_keys,
            _pm_from([(ns.node, ns.secret) for ns in st.nodes]),
            _pm_from(
                [
                    (ls.leaf, (_ratchet_from(ls.handshake), _ratchet_from(ls.application)))
                    for ls in st.leaves
                ]
            ),
            suite,
        )


# --------------------------------------------------------------------------
# Serialized form (Accord's own, not an RFC structure)

_STATE_VERSION = 1


@wire
class _SkippedKey(WireStruct):
    generation: U32
    key: bytes
    nonce: bytes

    def __repr__(self) -> str:
        return f"_SkippedKey(generation={self.generation})"


@wire
class _RatchetState(WireStruct):
    generation: U32
    secret: bytes
    skipped: tuple[_SkippedKey, ...]

    def __repr__(self) -> str:
        return f"_RatchetState(generation={self.generation})"


@wire
class _LeafState(WireStruct):
    leaf: U32
    handshake: _RatchetState
    application: _RatchetState


@wire
class _NodeState(WireStruct):
    node: U32
    secret: bytes

    def __repr__(self) -> str:
        return f"_NodeState(node={self.node})"


@wire
class _TreeState(WireStruct):
    version: U8
    cipher_suite: U16
    n_leaves: U32
    max_forward_distance: U32
    max_skipped_keys: U32
    nodes: tuple[_NodeState, ...]
    leaves: tuple[_LeafState, ...]


def _ratchet_state(r: _Ratchet) -> _RatchetState:
    return _RatchetState(
        r.generation,
        r.secret,
        tuple(_SkippedKey(g, k, n) for g, (k, n) in sorted(r.skipped.items())),
    )


def _ratchet_from(rs: _RatchetState) -> _Ratchet:
    skipped = {s.generation: (s.key, s.nonce) for s in rs.skipped}
    return _Ratchet(rs.generation, rs.secret, skipped or _NO_SKIPPED)


def _check_ratchet_state(rs: _RatchetState, suite: CipherSuite, max_skipped: int) -> None:
    if len(rs.secret) != suite.kdf_len:
        raise DecodeError("bad ratchet secret length in secret tree state")
    if len(rs.skipped) > max_skipped:
        raise DecodeError("more skipped keys than the state allows")
    last = -1
    for s in rs.skipped:
        if not last < s.generation < rs.generation:
            raise DecodeError("skipped generations out of order in secret tree state")
        if len(s.key) != suite.aead_key_len or len(s.nonce) != suite.aead_nonce_len:
            raise DecodeError("bad skipped key in secret tree state")
        last = s.generation


# --------------------------------------------------------------------------
# Sender data (6.3.2)


def sender_data_key_nonce(
    suite: CipherSuite, sender_data_secret: bytes, ciphertext: bytes
) -> tuple[bytes, bytes]:
    """(sender_data_key, sender_data_nonce) for a PrivateMessage ciphertext (6.3.2)."""
    # The sample is the first KDF.Nh bytes, or all of a shorter ciphertext.
    sample = bytes(ciphertext[: suite.kdf_len])
    return (
        suite.expand_with_label(sender_data_secret, "key", sample, suite.aead_key_len),
        suite.expand_with_label(sender_data_secret, "nonce", sample, suite.aead_nonce_len),
    )
