"""Parent hashes: computing them along a path and verifying a whole tree (RFC 9420 7.9).

API::

    parent_hash(tree, p, sibling_hash) -> bytes     # Hash(ParentHashInput) of node p
    original_sibling_tree_hash(tree, s, removed) -> bytes
    chain_parent_hashes(tree, fdp, keys) -> (list[bytes], bytes)
        # parent_hash fields of new nodes on a filtered direct path, and the leaf's
    verify_parent_hashes(tree) -> None              # 7.9.2, raises ValidationError
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Sequence

from accord.errors import ValidationError
from accord.mls.codec import codec_for
from accord.mls.ratchet_tree import Tree
from accord.mls.structs.tree_nodes import LeafNode, ParentHashInput, ParentNode
from accord.mls.tree_math import left_of, level, right_of

__all__ = [
    "chain_parent_hashes",
    "original_sibling_tree_hash",
    "parent_hash",
    "resolution_sizes",
    "verify_parent_hashes",
]

RULE = "RFC 9420 7.9.2"
_PHI_ENC = codec_for(ParentHashInput).enc


def _hash_input(tree: Tree, key: bytes, ph: bytes, sibling_hash: bytes) -> bytes:
    buf = bytearray()
    _PHI_ENC(ParentHashInput(key, ph, sibling_hash), buf)
    return tree.hash_fn(bytes(buf))


def parent_hash(tree: Tree, p: int, sibling_hash: bytes) -> bytes:
    """Parent hash of the (non-blank) parent ``p`` with a copath child whose
    original tree hash is ``sibling_hash`` (7.9)."""
    node = tree.parent_node(p)
    if node is None:
        raise ValidationError(f"node {p} is blank and has no parent hash", RULE)
    return _hash_input(tree, node.encryption_key, node.parent_hash, sibling_hash)


def _leaf_span(x: int) -> tuple[int, int]:
    k = level(x)
    first = (x - ((1 << k) - 1)) >> 1
    return first, first + (1 << k)


def original_sibling_tree_hash(tree: Tree, s: int, removed: Collection[int]) -> bytes:
    """Tree hash of ``s`` with the leaves in ``removed`` blanked and dropped
    from every unmerged_leaves list (7.9). Subtrees that hold none of them
    use the cached tree hash, so the cost is O(|removed| log n)."""
    if not removed:
        return tree.tree_hash(s)
    return _hash_without(tree, s, sorted(removed), frozenset(removed))


def _hash_without(tree: Tree, s: int, ordered: list[int], removed: frozenset[int]) -> bytes:
    lo, hi = _leaf_span(s)
    # Any removed leaf in [lo, hi)? A binary search, not a scan: a parent
    # may have thousands of unmerged leaves (adds committed without a path).
    i = bisect.bisect_left(ordered, lo)
    if i == len(ordered) or ordered[i] >= hi:
        return tree.tree_hash(s)
    if s & 1 == 0:
        return tree.hash_leaf_input(s >> 1, None)
    node = tree.parent_node(s)
    if node is not None:
        kept = tuple(u for u in node.unmerged_leaves if u not in removed)
        node = ParentNode(node.encryption_key, node.parent_hash, kept)
    lh = _hash_without(tree, left_of(s), ordered, removed)
    rh = _hash_without(tree, right_of(s), ordered, removed)
    return tree.hash_parent_input(node, lh, rh)


def chain_parent_hashes(
    tree: Tree, fdp: Sequence[tuple[int, int]], keys: Sequence[bytes]
) -> tuple[list[bytes], bytes]:
    """The ``parent_hash`` field of each new node of an UpdatePath (with the
    public ``keys``, bottom first, on the filtered direct path ``fdp``), and
    the one of the leaf (7.9, 7.9.1). Computed top-down: the top node has an
    empty parent hash and each node's field is the parent hash of the next
    node above it. New nodes have no unmerged leaves, so the original sibling
    tree hash is the current one."""
    fields = [b""] * len(fdp)
    above = b""
    for i in range(len(fdp) - 1, -1, -1):
        fields[i] = above
        above = _hash_input(tree, keys[i], above, tree.tree_hash(fdp[i][1]))
    return fields, above


def resolution_sizes(tree: Tree) -> list[int]:
    """Size of the resolution of every node (4.1.1), computed bottom-up in O(n)."""
    width = tree.width
    sizes = [0] * width
    for x in range(0, width, 2):
        if tree.node(x) is not None:
            sizes[x] = 1
    k = 1
    while (1 << k) - 1 < width:
        step = 1 << (k + 1)
        half = 1 << (k - 1)
        for x in range((1 << k) - 1, width, step):
            n = tree.node(x)
            if n is not None:
                sizes[x] = 1 + len(n.unmerged_leaves)  # type: ignore[union-attr]
            else:
                sizes[x] = sizes[x - half] + sizes[x + half]
        k += 1
    return sizes


def _node_parent_hash(node: object) -> bytes | None:
    if isinstance(node, ParentNode):
        return node.parent_hash
    if isinstance(node, LeafNode):
        return node.parent_hash  # None unless leaf_node_source is commit
    return None


def _valid_from_child(tree: Tree, p: int, c: int, s: int, sizes: list[int]) -> bool:
    """Whether some D in the resolution of child ``c`` makes ``p`` parent-hash
    valid (7.9.2): D.parent_hash is the parent hash of p with copath child s,
    and p's unmerged leaves under c are exactly the resolution of c minus D."""
    node = tree.parent_node(p)
    assert node is not None
    lo, hi = _leaf_span(c)
    unmerged_c = {2 * u for u in node.unmerged_leaves if lo <= u < hi}
    if sizes[c] != len(unmerged_c) + 1:
        return False
    rest = [d for d in tree.resolution(c) if d not in unmerged_c]
    if len(rest) != 1:
        return False
    d_hash = _node_parent_hash(tree.node(rest[0]))
    if d_hash is None:
        return False
    sibling_hash = original_sibling_tree_hash(tree, s, node.unmerged_leaves)
    return d_hash == parent_hash(tree, p, sibling_hash)


def verify_parent_hashes(tree: Tree) -> None:
    """Every non-blank parent node is parent-hash valid through exactly one
    child (7.9.2, checked "top down"); raises ``ValidationError`` otherwise."""
    sizes = resolution_sizes(tree)
    for p in range(1, tree.width, 2):
        if tree.node(p) is None:
            continue
        lc, rc = left_of(p), right_of(p)
        valid = int(_valid_from_child(tree, p, lc, rc, sizes))
        valid += int(_valid_from_child(tree, p, rc, lc, sizes))
        if valid != 1:
            raise ValidationError(f"parent node {p} is not parent-hash valid", RULE)
