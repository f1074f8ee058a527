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
DeriveTreeSecret calls. One ratchet, its steps and its stored form are in
``sender_ratchet``; this module holds the tree of them and its windows.

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
from typing import TypeVar

from accord.errors import DecodeError, ValidationError
from accord.mls import tree_math
from accord.mls.codec import U8, U16, U32, WireStruct, wire
from accord.mls.sender_ratchet import (
    NO_SKIPPED,
    RatchetKey,
    RatchetState,
    RatchetType,
    SenderRatchet,
)
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
    _ratchets: PMap[tuple[SenderRatchet, SenderRatchet]] = dataclasses.field(repr=False)
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
    ) -> tuple[tuple[SenderRatchet, SenderRatchet], PMap[bytes], PMap[tuple[SenderRatchet, SenderRatchet]]]:
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
            SenderRatchet(0, ewl(secret, "handshake", b"", nh), NO_SKIPPED),
            SenderRatchet(0, ewl(secret, "application", b"", nh), NO_SKIPPED),
        )
        return pair, nodes, _pm_set(self._ratchets, leaf, pair)

    def _with(
        self,
        leaf: int,
        kind: RatchetType,
        pair: tuple[SenderRatchet, SenderRatchet],
        ratchet: SenderRatchet,
        nodes: PMap[bytes],
        ratchets: PMap[tuple[SenderRatchet, SenderRatchet]],
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
        key, ratchet = r.next(self._suite)
        return key, self._with(leaf, kind, pair, ratchet, nodes, ratchets)

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
            taken = r.take_skipped(generation)
            if taken is None:
                raise GenerationUnavailable(
                    f"the key of generation {generation} was used or deleted"
                )
        else:
            distance = generation - r.generation
            if distance > self.max_forward_distance:
                raise GenerationTooFarAhead(
                    f"generation {generation} is {distance} ahead of the ratchet "
                    f"(at most {self.max_forward_distance})"
                )
            taken = r.forward_to(self._suite, generation, self.max_skipped_keys)
        key, ratchet = taken
        return key, self._with(leaf, kind, pair, ratchet, nodes, ratchets)

    def generation(self, leaf: int, kind: RatchetType) -> int:
        """The next generation the ratchet of ``leaf`` would hand out."""
        found = _pm_get(self._ratchets, leaf)
        return 0 if found is None else found[kind].generation

    # ---- serialization

    def to_bytes(self) -> bytes:
        nodes = tuple(_NodeState(k, v) for k, v in _pm_items(self._nodes))
        leaves = tuple(
            _LeafState(leaf, pair[0].state(), pair[1].state())
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
        keep = st.max_skipped_keys
        ratchets = [
            (ls.leaf, (SenderRatchet.from_state(ls.handshake, suite, keep),
                       SenderRatchet.from_state(ls.application, suite, keep)))
            for ls in st.leaves
        ]
        return cls(
            st.cipher_suite,
            st.n_leaves,
            st.max_forward_distance,
            st.max_skipped_keys,
            _pm_from([(ns.node, ns.secret) for ns in st.nodes]),
            _pm_from(ratchets),
            suite,
        )


# --------------------------------------------------------------------------
# Serialized form (Accord's own, not an RFC structure)

_STATE_VERSION = 1


@wire
class _LeafState(WireStruct):
    leaf: U32
    handshake: RatchetState
    application: RatchetState


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
