"""The public ratchet tree of a group: RFC 9420 sections 4, 7.7, 7.8 and 12.4.3.3.

``Tree`` is an array of optional nodes in the layout of Appendix C (leaf ``i``
at node ``2*i``), always with a power-of-two number of leaves (4.1). Nodes are
the frozen wire structs ``LeafNode`` and ``ParentNode``; since they never
change, ``Tree.copy()`` is a shallow copy of two flat lists (about 0.1 ms for
10,000 members), which is how a group stages a provisional tree for a commit
and throws it away if the commit is discarded: copy, mutate the copy, keep or
drop it. Nothing outside the copy is touched.

Tree hashes (7.8) are cached per node; changing a node drops the cached hash of
that node and of its ancestors only, so a commit re-hashes O(log n) nodes.

API (all node indices are array indices; leaf indices are named ``leaf``)::

    Tree(suite, nodes)                      # nodes: width 2^(k+1)-1, full
    Tree.from_bytes(suite, data)            # ratchet_tree extension bytes
    Tree.from_ratchet_tree(suite, nodes)    # a decoded RatchetTree (padded, 12.4.3.3)
    t.to_bytes() / t.to_ratchet_tree()      # trailing blanks stripped
    t.copy()
    t.n_leaves, t.width, t.root
    t.node(x), t.leaf(leaf), t.parent_node(x)
    t.set_node(x, node), t.blank(x)
    t.add_leaf(leaf_node) -> leaf           # 12.1.1: leftmost blank, extend, unmerged
    t.update_leaf(leaf, leaf_node)          # 12.1.2: replace, blank direct path
    t.remove_leaf(leaf)                     # 12.1.3: blank leaf + direct path, truncate
    t.truncate(), t.extend(), t.blank_direct_path(leaf)
    t.direct_path(x), t.copath(x), t.leftmost_blank()
    t.resolution(x, exclude=()) -> list[int]
    t.filtered_direct_path(leaf) -> list[tuple[int, int]]   # (parent, copath child)
    t.tree_hash(x=None) -> bytes            # root by default
    t.leaf_encoding(leaf) -> bytes          # the LeafNode's bytes (as received)
    t.leaves() -> iterator of (leaf, LeafNode)
    t.find_encryption_key(key) -> int | None
    t.find_signature_key(key) -> int | None  # leaf index
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Sequence
from itertools import compress
from typing import Any

from accord.errors import DecodeError, ValidationError
from accord.mls.codec import codec_for, decode_varint, encode
from accord.mls.structs.tree_nodes import (
    LeafNode,
    LeafNodeHashInput,
    Node,
    ParentNode,
    ParentNodeHashInput,
    RatchetTree,
    TreeHashInput,
)
from accord.mls.suites import CipherSuite
from accord.mls.tree_keys import KeyIndex
from accord.mls.tree_math import left_of, level, parent_of, right_of, root_of_width

__all__ = ["AnyNode", "HashFn", "Tree", "fast_hash"]

AnyNode = LeafNode | ParentNode
HashFn = Callable[[bytes], bytes]

_TREE_CODEC = codec_for(RatchetTree)
_OPT_NODE_DEC = codec_for(Node | None).dec  # one element of ratchet_tree<V>
_THI_ENC = codec_for(TreeHashInput).enc
_MAX_LEAVES = 1 << 31  # leaf indices are uint32 (7.8)


def fast_hash(suite: CipherSuite) -> HashFn:
    """The suite's hash through hashlib: the same function as ``suite.hash``
    but without pyca's per-call object overhead (tree hashing calls it 2n times)."""
    name = suite.hash_cls().name
    if name not in hashlib.algorithms_guaranteed:
        return suite.hash
    ctor: Callable[[bytes], Any] = getattr(hashlib, name)

    def digest(data: bytes) -> bytes:
        return ctor(data).digest()  # type: ignore[no-any-return]

    return digest


class Tree:
    """A ratchet tree (see the module docstring). Mutating methods change this
    object; call ``copy()`` first to stage changes that may be discarded."""

    __slots__ = (
        "_nodes",
        "_hashes",
        "_hash_fn",
        "_keys",
        "_raw",
        "_free",
        "suite",
    )

    def __init__(self, suite: CipherSuite, nodes: Sequence[AnyNode | None]) -> None:
        width = len(nodes)
        if width == 0 or (width + 1) & width:
            raise ValidationError(f"a tree of {width} nodes is not full", "RFC 9420 4.1")
        for x, n in enumerate(nodes):
            if n is not None and isinstance(n, LeafNode) != (x & 1 == 0):
                raise ValidationError(f"node {x} has the wrong node type", "RFC 9420 12.4.3.3")
        self.suite = suite
        self._hash_fn = fast_hash(suite)
        self._nodes: list[AnyNode | None] = list(nodes)
        self._hashes: list[bytes | None] = [None] * width
        self._keys = KeyIndex()
        # Encodings of leaves as received (node index -> LeafNode bytes): joining
        # hashes and verifies every leaf, and re-encoding them all would cost
        # as much as the signatures. Dropped when the leaf changes or on copy().
        self._raw: dict[int, bytes] = {}
        # No blank leaf lies left of leaf index ``_free`` (for add_leaf, 12.1.1).
        self._free = 0

    # ---------------------------------------------------------------- building

    @classmethod
    def from_ratchet_tree(cls, suite: CipherSuite, nodes: RatchetTree) -> Tree:
        """A tree from a ratchet_tree extension value (12.4.3.3): the last node
        must be non-blank, and blanks are added up to a full tree."""
        if not nodes or nodes[-1] is None:
            raise ValidationError(
                "the last node of a ratchet_tree must not be blank", "RFC 9420 12.4.3.3"
            )
        if len(nodes) > 2 * _MAX_LEAVES - 1:
            raise ValidationError("ratchet_tree is too large", "RFC 9420 7.8")
        width = 1
        while width < len(nodes):
            width = 2 * width + 1
        padded = list(nodes) + [None] * (width - len(nodes))
        return cls(suite, padded)

    @classmethod
    def from_bytes(cls, suite: CipherSuite, data: bytes) -> Tree:
        """Decode ``optional<Node> ratchet_tree<V>`` and keep each leaf's bytes."""
        n, pos = decode_varint(data, 0)
        end = pos + n
        if end != len(data):
            raise DecodeError("ratchet_tree length does not match the data")
        nodes: list[AnyNode | None] = []
        raw: dict[int, bytes] = {}
        while pos < end:
            start = pos
            node, pos = _OPT_NODE_DEC(data, pos)
            if pos > end:
                raise DecodeError("a node runs past the end of ratchet_tree")
            if isinstance(node, LeafNode):
                # optional<Node>: presence octet, node_type octet, then the leaf.
                raw[len(nodes)] = data[start + 2 : pos]
            nodes.append(node)
        tree = cls.from_ratchet_tree(suite, tuple(nodes))
        tree._raw = raw
        return tree

    def to_ratchet_tree(self) -> RatchetTree:
        nodes = self._nodes
        end = len(nodes)
        while end > 0 and nodes[end - 1] is None:
            end -= 1
        return tuple(nodes[:end])

    def to_bytes(self) -> bytes:
        return encode(RatchetTree, self.to_ratchet_tree())

    def copy(self) -> Tree:
        """A cheap copy: the node and hash lists are copied (references only,
        nodes are immutable); key indexes are shared until one side writes."""
        t = Tree.__new__(Tree)
        t.suite = self.suite
        t._hash_fn = self._hash_fn
        t._nodes = self._nodes.copy()
        t._hashes = self._hashes.copy()
        t._keys = self._keys.fork()
        t._raw = {}
        t._free = self._free
        return t

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Tree(n_leaves={self.n_leaves}, members={sum(1 for _ in self.leaves())})"

    # ---------------------------------------------------------------- reading

    @property
    def width(self) -> int:
        return len(self._nodes)

    @property
    def n_leaves(self) -> int:
        return (len(self._nodes) + 1) >> 1

    @property
    def root(self) -> int:
        return root_of_width(len(self._nodes))

    def node(self, x: int) -> AnyNode | None:
        return self._nodes[x]

    def leaf(self, leaf: int) -> LeafNode | None:
        if not 0 <= leaf < self.n_leaves:
            return None
        return self._nodes[2 * leaf]  # type: ignore[return-value]

    def parent_node(self, x: int) -> ParentNode | None:
        return self._nodes[x]  # type: ignore[return-value]

    def nodes(self) -> list[AnyNode | None]:
        """The node array (a copy of the list; nodes are immutable)."""
        return self._nodes.copy()

    def leaves(self) -> Iterator[tuple[int, LeafNode]]:
        """Every non-blank leaf as ``(leaf index, LeafNode)``."""
        nodes = self._nodes
        for x in range(0, len(nodes), 2):
            n = nodes[x]
            if n is not None:
                yield x >> 1, n  # type: ignore[misc]

    def leftmost_blank(self) -> int:
        """Leftmost blank leaf, or ``n_leaves`` when the tree is full: where
        an Add or an external joiner goes (12.1.1, 12.4.3.2)."""
        nodes = self._nodes
        return next(
            (x >> 1 for x in range(2 * self._free, len(nodes), 2) if nodes[x] is None),
            self.n_leaves,
        )

    def copath(self, x: int) -> list[int]:
        """Siblings of ``x`` and of its ancestors below the root (4.1.2)."""
        path = self.direct_path(x)
        return [
            right_of(p) if c < p else left_of(p) for c, p in zip([x, *path], path, strict=False)
        ]

    def direct_path(self, x: int) -> list[int]:
        r = self.root
        out = []
        while x != r:
            x = parent_of(x)
            out.append(x)
        return out

    def resolution(self, x: int, exclude: Collection[int] = ()) -> list[int]:
        """Resolution of node ``x`` (4.1.1), leaving out the leaves (by leaf
        index) in ``exclude``: the leaves added by the commit being made (12.4.2)."""
        out: list[int] = []
        if exclude and not isinstance(exclude, (set, frozenset)):
            exclude = frozenset(exclude)
        self._resolve(x, exclude, out)
        return out

    def _resolve(self, x: int, exclude: Collection[int], out: list[int]) -> None:
        nodes = self._nodes
        stack = [x]
        while stack:
            x = stack.pop()
            n = nodes[x]
            if x & 1 == 0:
                if n is not None and (x >> 1) not in exclude:
                    out.append(x)
            elif n is not None:
                out.append(x)
                out.extend(2 * u for u in n.unmerged_leaves if u not in exclude)  # type: ignore[union-attr]
            else:
                k = level(x)
                lo, hi = x - (1 << k) + 1, x + (1 << k)
                if not any(nodes[lo + 1 : hi : 2]):
                    # No parent below is filled (a freshly built or sparse
                    # subtree): the resolution is its non-blank leaves, found
                    # at C speed instead of by walking every blank parent.
                    leaves = compress(range(lo, hi, 2), nodes[lo:hi:2])
                    out.extend(leaves if not exclude else (y for y in leaves if y >> 1 not in exclude))
                    continue
                # Right pushed first so that the left subtree comes out first.
                stack.append(right_of(x))
                stack.append(left_of(x))

    def filtered_direct_path(self, leaf: int) -> list[tuple[int, int]]:
        """``(parent, copath child)`` pairs of the filtered direct path of
        ``leaf`` (4.1.2): parents whose copath child has an empty resolution
        are left out. Unmerged leaves and new members count (4.1.2, 12.4.2)."""
        x = 2 * leaf
        r = self.root
        out = []
        while x != r:
            p = parent_of(x)
            s = right_of(p) if x < p else left_of(p)
            if not self._subtree_blank(s):
                out.append((p, s))
            x = p
        return out

    def _subtree_blank(self, s: int) -> bool:
        nodes = self._nodes
        if nodes[s] is not None:
            return False
        if s & 1 == 0:
            return True
        k = level(s)
        return not any(nodes[s - (1 << k) + 1 : s + (1 << k)])

    # ---------------------------------------------------------------- tree hash

    def tree_hash(self, x: int | None = None) -> bytes:
        """Tree hash of node ``x`` (7.8), the root by default."""
        if x is None:
            x = self.root
        h = self._hashes[x]
        if h is not None:
            return h
        return self._compute_hash(x)

    def _compute_hash(self, top: int) -> bytes:
        nodes, hashes, hash_fn = self._nodes, self._hashes, self._hash_fn
        # Iterative post-order over the dirty part of the subtree only.
        stack = [top]
        while stack:
            x = stack[-1]
            if x & 1 == 0:
                hashes[x] = self._leaf_hash(x)
                stack.pop()
                continue
            lc, rc = left_of(x), right_of(x)
            lh, rh = hashes[lc], hashes[rc]
            if lh is None:
                stack.append(lc)
            if rh is None:
                stack.append(rc)
            if lh is None or rh is None:
                continue
            buf = bytearray()
            _THI_ENC(ParentNodeHashInput(nodes[x], lh, rh), buf)  # type: ignore[arg-type]
            hashes[x] = hash_fn(bytes(buf))
            stack.pop()
        return hashes[top]  # type: ignore[return-value]

    def _leaf_hash(self, x: int) -> bytes:
        node = self._nodes[x]
        if node is None:
            return self.hash_leaf_input(x >> 1, None)
        # TreeHashInput of a present leaf: the blank form's prefix with the
        # presence octet set, then the leaf's encoding (7.8).
        blank = encode(TreeHashInput, LeafNodeHashInput(x >> 1, None))
        return self._hash_fn(blank[:-1] + b"\x01" + self.leaf_encoding(x >> 1))

    def leaf_encoding(self, leaf: int) -> bytes:
        """The encoding of the LeafNode at ``leaf`` (as received, when it was)."""
        x = 2 * leaf
        raw = self._raw.get(x)
        if raw is None:
            node = self._nodes[x]
            if node is None:
                raise ValidationError(f"leaf {leaf} is blank", "RFC 9420 7.8")
            raw = self._raw[x] = node.to_bytes()
        return raw

    def hash_leaf_input(self, leaf: int, node: LeafNode | None) -> bytes:
        buf = bytearray()
        _THI_ENC(LeafNodeHashInput(leaf, node), buf)
        return self._hash_fn(bytes(buf))

    def hash_parent_input(self, node: ParentNode | None, lh: bytes, rh: bytes) -> bytes:
        buf = bytearray()
        _THI_ENC(ParentNodeHashInput(node, lh, rh), buf)
        return self._hash_fn(bytes(buf))

    @property
    def hash_fn(self) -> HashFn:
        return self._hash_fn

    def _invalidate(self, x: int) -> None:
        hashes = self._hashes
        r = root_of_width(len(hashes))
        hashes[x] = None
        while x != r:
            x = parent_of(x)
            hashes[x] = None

    # ---------------------------------------------------------------- key lookups

    def find_encryption_key(self, key: bytes) -> int | None:
        """Node index of the node whose encryption key is ``key`` (7.3, 12.4.2)."""
        return self._keys.encryption_key(self._nodes, key)

    def find_signature_key(self, key: bytes) -> int | None:
        """Leaf index of the member whose signature key is ``key`` (7.3)."""
        return self._keys.signature_key(self.leaves(), key)

    # ---------------------------------------------------------------- writing

    def set_node(self, x: int, node: AnyNode | None) -> None:
        if node is not None and isinstance(node, LeafNode) != (x & 1 == 0):
            raise ValidationError(f"node {x} has the wrong node type", "RFC 9420 4.1")
        old = self._nodes[x]
        if old is node:
            return
        self._keys.replace(x, old, node)
        self._nodes[x] = node
        self._raw.pop(x, None)
        if node is None and x & 1 == 0 and (x >> 1) < self._free:
            self._free = x >> 1
        self._invalidate(x)

    def blank(self, x: int) -> None:
        self.set_node(x, None)

    def blank_direct_path(self, leaf: int) -> None:
        for p in self.direct_path(2 * leaf):
            if self._nodes[p] is not None:
                self.set_node(p, None)

    def extend(self) -> None:
        """Double the number of leaves (7.7): the old tree becomes the left subtree."""
        if self.n_leaves >= _MAX_LEAVES:
            raise ValidationError("the tree cannot grow past 2^31 leaves", "RFC 9420 7.8")
        width = len(self._nodes)
        self._nodes.extend([None] * (width + 1))
        # Hashes of the old nodes stay valid: a node's subtree does not depend
        # on the size of the tree. Only the new root and right half are unknown.
        self._hashes.extend([None] * (width + 1))

    def truncate(self) -> None:
        """Drop right halves with no non-blank node (7.7)."""
        nodes = self._nodes
        last = len(nodes) - 1
        while last >= 0 and nodes[last] is None:
            last -= 1
        width = len(nodes)
        while width > 1 and last < width >> 1:
            width >>= 1
        if width < len(nodes):
            del nodes[width:]
            del self._hashes[width:]
            # The root changed; its hash slot is the new root's and still valid.

    def add_leaf(self, leaf_node: LeafNode) -> int:
        """Add a member (12.1.1) and return its leaf index."""
        leaf = self.leftmost_blank()
        if leaf == self.n_leaves:
            self.extend()
        self._free = leaf + 1
        self.set_node(2 * leaf, leaf_node)
        # 12.1.1: the new leaf is unmerged at every non-blank ancestor.
        for p in self.direct_path(2 * leaf):
            pn = self._nodes[p]
            if pn is not None:
                assert isinstance(pn, ParentNode)
                self.set_node(
                    p, ParentNode(pn.encryption_key, pn.parent_hash, pn.unmerged_leaves + (leaf,))
                )
        return leaf

    def update_leaf(self, leaf: int, leaf_node: LeafNode) -> None:
        """Apply an Update (12.1.2): replace the leaf, blank its direct path."""
        self._check_member(leaf)
        self.set_node(2 * leaf, leaf_node)
        self.blank_direct_path(leaf)

    def remove_leaf(self, leaf: int) -> None:
        """Apply a Remove (12.1.3): blank the leaf and its direct path, truncate."""
        self._check_member(leaf)
        self.set_node(2 * leaf, None)
        self.blank_direct_path(leaf)
        self.truncate()

    def _check_member(self, leaf: int) -> None:
        if self.leaf(leaf) is None:
            raise ValidationError(f"leaf {leaf} is blank or outside the tree", "RFC 9420 12.2")
