"""Properties of the array-based tree math (RFC 9420 Appendix C)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.errors import ValidationError
from accord.mls import tree_math as tm


@st.composite
def tree_and_node(draw: st.DrawFn, max_leaves: int = 20_000) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=max_leaves))
    x = draw(st.integers(min_value=0, max_value=tm.node_width(n) - 1))
    return n, x


leaves = st.integers(min_value=1, max_value=20_000)
pow2_leaves = st.integers(min_value=0, max_value=14).map(lambda k: 1 << k)


def test_small_tree_shape() -> None:
    # RFC 9420 Appendix C, the eight-member tree.
    assert tm.root(8) == 7
    assert [tm.level(x) for x in range(15)] == [0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0]
    assert tm.direct_path(0, 8) == [1, 3, 7]
    assert tm.copath(0, 8) == [2, 5, 11]
    assert tm.direct_path(7, 8) == [] and tm.copath(7, 8) == []


def test_left_balanced_tree() -> None:
    # Five leaves: width 9, root 7, node 8 hangs directly below the root.
    assert tm.node_width(5) == 9
    assert tm.root(5) == 7
    assert tm.right(7, 5) == 8
    assert tm.parent(8, 5) == 7
    assert tm.sibling(8, 5) == 3
    assert tm.direct_path(8, 5) == [7]


def test_errors() -> None:
    with pytest.raises(ValidationError):
        tm.left(4)
    with pytest.raises(ValidationError):
        tm.parent(7, 8)
    with pytest.raises(ValidationError):
        tm.parent(15, 8)
    with pytest.raises(ValidationError):
        tm.node_to_leaf(3)
    with pytest.raises(ValidationError):
        tm.root(0)


@given(tree_and_node())
def test_children_point_back_to_parent(t: tuple[int, int]) -> None:
    n, x = t
    if tm.is_leaf(x):
        return
    assert tm.parent(tm.left(x), n) == x
    assert tm.parent(tm.right(x, n), n) == x
    assert tm.left(x) < x < tm.right(x, n) < tm.node_width(n)


@given(tree_and_node())
def test_parent_has_node_as_child(t: tuple[int, int]) -> None:
    n, x = t
    if x == tm.root(n):
        return
    p = tm.parent(x, n)
    assert x in (tm.left(p), tm.right(p, n))
    assert tm.level(p) > tm.level(x)
    s = tm.sibling(x, n)
    assert s != x and tm.sibling(s, n) == x


@given(tree_and_node())
def test_direct_path_climbs_to_root(t: tuple[int, int]) -> None:
    n, x = t
    path = tm.direct_path(x, n)
    r = tm.root(n)
    if x == r:
        assert path == []
        return
    assert path[-1] == r
    assert path[0] == tm.parent(x, n)
    for a, b in zip(path, path[1:], strict=False):
        assert tm.parent(a, n) == b
    cp = tm.copath(x, n)
    assert len(cp) == len(path)
    assert cp == [tm.sibling(y, n) for y in [x, *path[:-1]]]
    assert all(tm.is_ancestor(p, x) for p in path)


@given(pow2_leaves, st.data())
def test_perfect_tree_paths_have_log_length(n: int, data: st.DataObject) -> None:
    leaf = data.draw(st.integers(min_value=0, max_value=n - 1))
    assert len(tm.direct_path(tm.leaf_to_node(leaf), n)) == n.bit_length() - 1


@given(tree_and_node(), st.data())
def test_common_ancestor_is_lowest_shared(t: tuple[int, int], data: st.DataObject) -> None:
    n, x = t
    y = data.draw(st.integers(min_value=0, max_value=tm.node_width(n) - 1))
    a = tm.common_ancestor(x, y)
    px = [x, *tm.direct_path(x, n)]
    py = [y, *tm.direct_path(y, n)]
    shared = set(px) & set(py)
    assert a == min(shared, key=tm.level)


@given(tree_and_node())
def test_subtree_leaves_match_ancestry(t: tuple[int, int]) -> None:
    n, x = t
    covered = tm.subtree_leaves(x, n)
    assert len(covered) >= 1
    for leaf in (covered.start, covered.stop - 1):
        assert tm.is_ancestor(x, tm.leaf_to_node(leaf))
    if covered.start > 0:
        assert not tm.is_ancestor(x, tm.leaf_to_node(covered.start - 1))


@given(st.integers(min_value=0, max_value=1 << 31))
def test_leaf_node_round_trip(leaf: int) -> None:
    assert tm.node_to_leaf(tm.leaf_to_node(leaf)) == leaf
    assert tm.is_leaf(tm.leaf_to_node(leaf))
