"""An append-only Merkle tree in the style of RFC 9162 section 2.1.

Hashes (RFC 9162 2.1.1): ``leaf = SHA-256(0x00 || data)``,
``node = SHA-256(0x01 || left || right)``, and the empty tree's hash is
``SHA-256()``. The tree over ``n`` leaves splits at ``k``, the largest power
of two smaller than ``n``.

Storage: the hash of every complete (perfect) subtree, by ``(level,
index)``, in a ``NodeStore``. Appending writes the leaf and the subtrees it
completes: O(1) amortised and O(log n) at worst. The root, an inclusion
proof or a consistency proof for any size up to the current one reads
O(log n) complete subtrees (a partial subtree on the right edge is the
hash of O(log n) complete ones), so old heads stay provable.

Proof generation follows RFC 9162 2.1.3.1 (PATH) and 2.1.4.1 (PROOF,
SUBPROOF); verification lives in ``proofs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

from accord.errors import ValidationError
from accord.transparency.store import MemoryNodeStore, NodeStore

__all__ = ["EMPTY_ROOT", "MerkleLog", "leaf_hash", "node_hash"]

EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """RFC 9162 2.1.1: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleLog:
    """The log's tree. Holds only its size; every hash lives in the store."""

    __slots__ = ("_size", "store")

    def __init__(self, store: NodeStore | None = None, size: int = 0) -> None:
        self.store: NodeStore = store if store is not None else MemoryNodeStore()
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: bytes) -> int:
        """Append one entry; returns its position."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, leaf: bytes) -> int:
        position = index = self._size
        put, get = self.store.put_node, self.store.get_node
        put(0, index, leaf)
        level, h = 0, leaf
        # A right child completes its parent: climb while the index is odd.
        while index & 1:
            h = node_hash(get(level, index - 1), h)
            index >>= 1
            level += 1
            put(level, index, h)
        self._size = position + 1
        return position

    def extend_hashes(self, leaves: Sequence[bytes]) -> None:
        """Append many leaf hashes at once, level by level (bulk loading)."""
        old, new = self._size, self._size + len(leaves)
        put, get = self.store.put_node, self.store.get_node
        current, level = list(leaves), 0
        while current:
            lo = old >> level
            for i, h in enumerate(current):
                put(level, lo + i, h)
            children = ([get(level, lo - 1)] if lo & 1 else []) + current
            base = lo & ~1
            first, end = old >> (level + 1), new >> (level + 1)
            current = [
                node_hash(children[2 * p - base], children[2 * p + 1 - base])
                for p in range(first, end)
            ]
            level += 1
        self._size = new

    def _check_size(self, size: int | None) -> int:
        n = self._size if size is None else size
        if not 0 <= n <= self._size:
            raise ValidationError(f"tree size {n} is beyond the log's {self._size}", "RFC 9162 2.1")
        return n

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]) (RFC 9162 2.1.1); the current root by default."""
        n = self._check_size(size)
        return self.subtree_hash(0, n) if n else EMPTY_ROOT

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that RFC 9162's recursion produces."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.store.get_node(n.bit_length() - 1, start // n)
        # The right edge: fold the complete subtrees of [start, end), largest first.
        parts: list[bytes] = []
        while end - start > 0:
            k = 1 << ((end - start).bit_length() - 1)
            if start % k:
                raise ValidationError(f"range [{start}, {end}) is not a subtree", "RFC 9162 2.1.1")
            parts.append(self.store.get_node(k.bit_length() - 1, start // k))
            start += k
        h = parts.pop()
        while parts:
            h = node_hash(parts.pop(), h)
        return h

    def inclusion_proof(self, index: int, size: int | None = None) -> tuple[bytes, ...]:
        """PATH(index, D[0:size]) (RFC 9162 2.1.3.1), leaf-side sibling first."""
        n = self._check_size(size)
        if not 0 <= index < n:
            raise ValidationError(f"leaf {index} is not in a tree of {n}", "RFC 9162 2.1.3.1")
        path: list[bytes] = []
        start, end = 0, n
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self.subtree_hash(start + k, end))
                end = start + k
            else:
                path.append(self.subtree_hash(start, start + k))
                start += k
        path.reverse()
        return tuple(path)

    def consistency_proof(self, old: int, new: int | None = None) -> tuple[bytes, ...]:
        """PROOF(old, D[0:new]) (RFC 9162 2.1.4.1); empty when old is 0 or new."""
        n = self._check_size(new)
        if not 0 <= old <= n:
            raise ValidationError(f"size {old} is beyond {n}", "RFC 9162 2.1.4.1")
        if old in (0, n):
            return ()
        # SUBPROOF(m, D[start:end], b), unrolled: each step appends one hash
        # after the recursive part, so collect top-down and reverse.
        tail: list[bytes] = []
        start, end, m, whole = 0, n, old, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                tail.append(self.subtree_hash(start + k, end))
                end = start + k
            else:
                tail.append(self.subtree_hash(start, start + k))
                start, m, whole = start + k, m - k, False
        head = [] if whole else [self.subtree_hash(start, end)]
        tail.reverse()
        return tuple(head + tail)
