"""A prefix tree over 256-bit keys: which entry is current for each identity.

The log proves that an entry exists; this map proves that it is the latest
one for its index, and that an unknown index has no entry at all. It is a
binary trie on the key's bits (most significant bit of byte 0 first) in
which a subtree holding one key is just that key's leaf, placed where the
key first differs from every other one:

- empty subtree: 32 zero octets;
- subtree with one key: ``SHA-256(0x02 || key || value)``;
- subtree with two or more keys: ``SHA-256(0x03 || left || right)``.

The octets 0x02 and 0x03 keep these hashes apart from the log's own
0x00/0x01 (RFC 9162 2.1.1). The root is a function of the (key, value)
set alone, so anyone holding the log can recompute it (``directory.
replay_map_root``). For random keys (HMAC outputs) a path has about
log2(n) + 1 siblings, so proofs are O(log n) and updates rehash O(log n)
nodes.

A proof for a key lists the sibling hashes from the root down to where the
key's path ends: at the key's own leaf (membership), at an empty subtree or
at another key's leaf (non-membership). For one root the path of a key is
unique (collision resistance of SHA-256), so a provider cannot show two
answers for one key under one signed root.
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from typing import Annotated

from accord.bounded import BoundedBytes, BoundedTuple
from accord.errors import CryptoError, ValidationError
from accord.mls.codec import Fixed, wire

__all__ = ["EMPTY", "MapLeaf", "MapProof", "PrefixMap", "verify_map_proof"]

EMPTY = bytes(32)
KEY_BITS = 256
MAX_VALUE_BYTES = 64


def map_leaf_hash(key: bytes, value: bytes) -> bytes:
    return sha256(b"\x02" + key + value).digest()


def map_node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x03" + left + right).digest()


def _bit(key: bytes, depth: int) -> int:
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


@wire
class MapLeaf:
    key: Annotated[bytes, Fixed(32)]
    value: BoundedBytes(MAX_VALUE_BYTES)  # type: ignore[valid-type]


@wire
class MapProof:
    siblings: BoundedTuple(Annotated[bytes, Fixed(32)], KEY_BITS)  # type: ignore[valid-type]
    leaf: MapLeaf | None  # where the path ends; None for an empty subtree


class _Leaf:
    __slots__ = ("hash", "key", "value")

    def __init__(self, key: bytes, value: bytes) -> None:
        self.key, self.value = key, value
        self.hash = map_leaf_hash(key, value)


class _Inner:
    __slots__ = ("hash", "left", "right")

    def __init__(self, left: _Node, right: _Node) -> None:
        self.left, self.right = left, right
        self.hash = map_node_hash(_hash(left), _hash(right))


_Node = _Leaf | _Inner | None


def _hash(node: _Node) -> bytes:
    return EMPTY if node is None else node.hash


def _split(old: _Leaf, new: _Leaf, depth: int) -> _Inner:
    """The subtree at ``depth`` holding two leaves: inner nodes down to where they part."""
    d = depth
    while _bit(old.key, d) == _bit(new.key, d):
        d += 1
    node = _Inner(new, old) if _bit(new.key, d) == 0 else _Inner(old, new)
    while d > depth:
        d -= 1
        node = _Inner(node, None) if _bit(new.key, d) == 0 else _Inner(None, node)
    return node


class PrefixMap:
    """The current map, in memory; rebuilt from the log when a server starts."""

    __slots__ = ("_count", "_root")

    def __init__(self) -> None:
        self._root: _Node = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def root(self) -> bytes:
        return _hash(self._root)

    def get(self, key: bytes) -> bytes | None:
        k, shift = int.from_bytes(key, "big"), KEY_BITS - 1
        node = self._root
        while isinstance(node, _Inner):
            node = node.right if (k >> shift) & 1 else node.left
            shift -= 1
        return node.value if node is not None and node.key == key else None

    def set(self, key: bytes, value: bytes) -> None:
        if len(key) != 32 or len(value) > MAX_VALUE_BYTES:
            raise ValidationError("map keys are 32 bytes, values at most 64")
        # The hot path of every publish: bits from one integer, hashes inline.
        k, shift = int.from_bytes(key, "big"), KEY_BITS - 1
        path: list[tuple[_Inner, int]] = []
        node = self._root
        while isinstance(node, _Inner):
            b = (k >> shift) & 1
            path.append((node, b))
            node = node.right if b else node.left
            shift -= 1
        leaf = _Leaf(key, value)
        new: _Node
        if node is None or node.key == key:
            self._count += node is None
            new = leaf
        else:
            self._count += 1
            new = _split(node, leaf, KEY_BITS - 1 - shift)
        h = new.hash
        for inner, b in reversed(path):
            if b:
                inner.right = new
                left = inner.left
                h = sha256(b"\x03" + (EMPTY if left is None else left.hash) + h).digest()
            else:
                inner.left = new
                right = inner.right
                h = sha256(b"\x03" + h + (EMPTY if right is None else right.hash)).digest()
            inner.hash = h
            new = inner
        self._root = new

    def prove(self, key: bytes) -> MapProof:
        siblings: list[bytes] = []
        node, depth = self._root, 0
        while isinstance(node, _Inner):
            b = _bit(key, depth)
            siblings.append(_hash(node.left if b else node.right))
            node = node.right if b else node.left
            depth += 1
        leaf = None if node is None else MapLeaf(node.key, node.value)
        return MapProof(tuple(siblings), leaf)


def verify_map_proof(root: bytes, key: bytes, proof: MapProof) -> bytes | None:
    """The value ``key`` maps to under ``root``, or None if it maps to nothing.

    Raises ``CryptoError`` if the proof does not rebuild ``root``.
    """
    if len(key) != 32 or len(root) != 32:
        raise ValidationError("map keys and roots are 32 bytes", "PROTOCOL.md key transparency")
    siblings = proof.siblings
    depth = len(siblings)
    if proof.leaf is None:
        h = EMPTY
    else:
        other = proof.leaf.key
        # A leaf sits on the path of every key sharing its first ``depth`` bits only.
        if any(_bit(other, d) != _bit(key, d) for d in range(depth)):
            raise CryptoError("map proof ends at a leaf off the key's path")
        h = map_leaf_hash(other, proof.leaf.value)
    # A subtree of at most one key is never an inner node: refuse that shape.
    if depth and siblings[-1] == EMPTY:
        raise CryptoError("map proof has an inner node with fewer than two keys")
    for d in range(depth - 1, -1, -1):
        s = siblings[d]
        h = map_node_hash(s, h) if _bit(key, d) else map_node_hash(h, s)
    if not hmac.compare_digest(h, root):
        raise CryptoError("map proof does not lead to the tree head's map root")
    if proof.leaf is not None and proof.leaf.key == key:
        value: bytes = proof.leaf.value
        return value
    return None
