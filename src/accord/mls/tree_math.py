"""Array-based tree math: RFC 9420 section 4.1 and Appendix C.

Nodes are numbered left to right; leaf ``i`` is node ``2*i`` and parent nodes
are the odd indices. RFC 9420 trees always have a power-of-two number of
leaves (4.1), but every function here also handles the left-balanced trees of
earlier drafts: a child or parent that would fall past the right edge of the
array is replaced by its nearest ancestor or left descendant inside it.

Everything works on plain ints, with bit tricks instead of loops where the
relation is closed-form; walks along a path take ``O(log n)`` steps. Functions
that depend on the size of the tree take ``n_leaves``.
"""

from __future__ import annotations

from accord.errors import ValidationError

__all__ = [
    "common_ancestor",
    "copath",
    "direct_path",
    "is_ancestor",
    "is_leaf",
    "leaf_to_node",
    "left",
    "left_of",
    "level",
    "node_to_leaf",
    "node_width",
    "parent",
    "parent_of",
    "right",
    "right_of",
    "root",
    "root_of_width",
    "sibling",
    "subtree_leaves",
]

_RULE = "RFC 9420 Appendix C"


def level(x: int) -> int:
    """Height of node ``x``: 0 for leaves, k for a node with 2^k-leaf subtrees.

    The level is the number of trailing one bits of the index.
    """
    return (x ^ (x + 1)).bit_length() - 1


def is_leaf(x: int) -> bool:
    return x & 1 == 0


def leaf_to_node(leaf: int) -> int:
    return leaf << 1


def node_to_leaf(x: int) -> int:
    if x & 1:
        raise ValidationError(f"node {x} is a parent node, not a leaf", _RULE)
    return x >> 1


def node_width(n_leaves: int) -> int:
    """Number of array slots of a tree with ``n_leaves`` leaves."""
    return 2 * n_leaves - 1 if n_leaves > 0 else 0


def root(n_leaves: int) -> int:
    if n_leaves <= 0:
        raise ValidationError("an empty tree has no root", _RULE)
    return root_of_width(node_width(n_leaves))


def root_of_width(width: int) -> int:
    """The root of a tree of ``width`` (> 0) array slots: 2^floor(log2(width)) - 1."""
    return (1 << (width.bit_length() - 1)) - 1


# In a tree of 2^k leaves (the only shape RFC 9420 uses) the relations of a node
# do not depend on the size of the tree: these closed forms are unchecked, for the
# hot loops of the ratchet tree. Appendix C: parent=01x => left=00x, right=10x.
def left_of(x: int) -> int:
    return x ^ (1 << (level(x) - 1))


def right_of(x: int) -> int:
    return x ^ (3 << (level(x) - 1))


def parent_of(x: int) -> int:
    k = level(x)
    return (x | (1 << k)) & ~(1 << (k + 1))


def _check(x: int, n_leaves: int) -> None:
    if not 0 <= x < 2 * n_leaves - 1:
        raise ValidationError(f"node {x} is outside a tree of {n_leaves} leaves", _RULE)


def left(x: int) -> int:
    """Left child of parent node ``x`` (always inside the tree when ``x`` is)."""
    if level(x) == 0:
        raise ValidationError(f"leaf node {x} has no children", _RULE)
    return left_of(x)


def right(x: int, n_leaves: int) -> int:
    """Right child of parent node ``x`` in a tree of ``n_leaves`` leaves."""
    k = level(x)
    if k == 0:
        raise ValidationError(f"leaf node {x} has no children", _RULE)
    _check(x, n_leaves)
    r = right_of(x)
    width = 2 * n_leaves - 1
    # Left-balanced trees only: descend leftwards until back inside the array.
    while r >= width:
        k = level(r)
        r ^= 1 << (k - 1)
    return r


def parent(x: int, n_leaves: int) -> int:
    """Parent of node ``x``; the root has none."""
    _check(x, n_leaves)
    if x == root(n_leaves):
        raise ValidationError(f"the root {x} has no parent", _RULE)
    p = parent_of(x)
    width = 2 * n_leaves - 1
    while p >= width:
        p = parent_of(p)
    return p


def sibling(x: int, n_leaves: int) -> int:
    """The other child of ``x``'s parent."""
    p = parent(x, n_leaves)
    return right(p, n_leaves) if x < p else left(p)


def direct_path(x: int, n_leaves: int) -> list[int]:
    """Ancestors of ``x`` from its parent up to and including the root (4.1.2)."""
    _check(x, n_leaves)
    r = root(n_leaves)
    width = 2 * n_leaves - 1
    path: list[int] = []
    while x != r:
        x = parent_of(x)
        if x < width:
            path.append(x)
    return path


def copath(x: int, n_leaves: int) -> list[int]:
    """Siblings of ``x`` and of each node of its direct path except the root (4.1.2)."""
    if x == root(n_leaves):
        _check(x, n_leaves)
        return []
    width = 2 * n_leaves - 1
    out = []
    child = x
    for p in direct_path(x, n_leaves):
        if child > p:
            out.append(left(p))
        else:
            # A left child is never clipped, so its unbounded sibling mirrors it
            # around the parent; only a sibling past the array's edge needs the walk.
            other = 2 * p - child
            out.append(other if other < width else right(p, n_leaves))
        child = p
    return out


def is_ancestor(a: int, x: int) -> bool:
    """Whether node ``x`` lies in the subtree headed by ``a`` (``a`` itself included)."""
    k = level(a)
    # The subtree of a level-k node spans indices a - (2^k - 1) .. a + (2^k - 1).
    return abs(x - a) < (1 << k)


def subtree_leaves(a: int, n_leaves: int) -> range:
    """Leaf indices covered by the subtree headed by ``a``, clipped to the tree."""
    _check(a, n_leaves)
    k = level(a)
    first = (a - ((1 << k) - 1)) >> 1
    return range(first, min(first + (1 << k), n_leaves))


def common_ancestor(x: int, y: int) -> int:
    """Lowest node whose subtree holds both ``x`` and ``y`` (Appendix C)."""
    lx, ly = level(x) + 1, level(y) + 1
    if lx <= ly and x >> ly == y >> ly:
        return y
    if ly <= lx and x >> lx == y >> lx:
        return x
    # Strip the bits below the first position where the indices differ.
    k = (x ^ y).bit_length()
    return ((x >> k) << k) + (1 << (k - 1)) - 1
