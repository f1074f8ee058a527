"""The ratchet tree under random group histories (RFC 9420 7.7-7.9, 12.1)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.mls.credentials import BasicCredentials
from accord.mls.parent_hash import verify_parent_hashes
from accord.mls.ratchet_tree import Tree
from accord.mls.suites import get_suite
from accord.mls.tree_validation import check_key_uniqueness, check_unmerged_leaves, validate_tree
from tests.mls.tree_sim import NOW, GroupSim

SUITE = get_suite(1)

# One step of a history: (kind, a, b) with a/b picking members by position.
steps = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "update", "commit"]),
        st.integers(0, 99),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=12,
)


def _apply(sim: GroupSim, kind: str, a: int, b: int) -> None:
    members = sim.members()
    who = members[a % len(members)]
    if kind == "add":
        added = tuple(sim.add() for _ in range(b + 1))
        sim.commit(who, added)
    elif kind == "remove" and len(members) > 1:
        victim = members[(a + 1) % len(members)]
        sim.remove(victim)
        sim.commit(next(m for m in sim.members() if m != victim))
    elif kind == "update" and len(members) > 1:
        sim.update(who)
        sim.commit(members[(a + 1) % len(members)])
    else:
        sim.commit(who)


def _check_tree(sim: GroupSim) -> None:
    tree = sim.tree
    fresh = Tree.from_bytes(SUITE, tree.to_bytes())
    assert fresh == tree
    assert fresh.tree_hash() == tree.tree_hash()
    assert all(fresh.tree_hash(x) == tree.tree_hash(x) for x in range(tree.width))
    assert fresh.to_bytes() == tree.to_bytes()
    verify_parent_hashes(tree)
    check_unmerged_leaves(tree)
    check_key_uniqueness(tree)
    validate_tree(tree, sim.context(), now=NOW, credential_validator=BasicCredentials())
    sim.check_keys()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_histories_keep_hashes_valid(history: list[tuple[str, int, int]]) -> None:
    sim = GroupSim(SUITE)
    for kind, a, b in history:
        _apply(sim, kind, a, b)
        _check_tree(sim)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=40))
def test_adds_and_removes_without_commits(ops: list[bool]) -> None:
    # Unmerged leaves accumulate at non-blank parents; truncation keeps the
    # tree minimal; the cached hashes always equal a fresh computation.
    sim = GroupSim(SUITE)
    sim.add()
    sim.commit(0)
    for add in ops:
        members = sim.members()
        if add or len(members) == 1:
            sim.add()
        else:
            sim.remove(members[-1])
        tree = sim.tree
        last = max(m for m in sim.members())
        assert tree.n_leaves == 1 << max(0, last).bit_length() or tree.n_leaves == 1
        assert Tree.from_bytes(SUITE, tree.to_bytes()).tree_hash() == tree.tree_hash()
        check_unmerged_leaves(tree)
        verify_parent_hashes(tree)


def test_copy_is_independent() -> None:
    sim = GroupSim(SUITE)
    for _ in range(5):
        sim.add()
    sim.commit(0)
    before = sim.tree.to_bytes()
    h = sim.tree.tree_hash()
    staged = sim.tree.copy()
    assert staged.find_encryption_key(staged.leaf(1).encryption_key) == 2  # type: ignore[union-attr]
    staged.remove_leaf(3)
    staged.add_leaf(sim.tree.leaf(4))  # type: ignore[arg-type]
    assert sim.tree.to_bytes() == before and sim.tree.tree_hash() == h
    assert sim.tree.find_encryption_key(sim.tree.leaf(3).encryption_key) == 6  # type: ignore[union-attr]
    assert staged.find_encryption_key(sim.tree.leaf(3).encryption_key) is None  # type: ignore[union-attr]


def test_add_takes_leftmost_blank_and_extends() -> None:
    sim = GroupSim(SUITE)
    assert [sim.add() for _ in range(3)] == [1, 2, 3]
    assert sim.tree.n_leaves == 4
    sim.remove(1)
    assert sim.add() == 1
    assert sim.add() == 4 and sim.tree.n_leaves == 8
    sim.remove(4)
    assert sim.tree.n_leaves == 4


def test_resolution_and_filtered_direct_path() -> None:
    sim = GroupSim(SUITE)
    for _ in range(3):
        sim.add()
    # No commit yet: every parent is blank, resolutions are the leaves.
    assert sim.tree.resolution(3) == [0, 2, 4, 6]
    assert [p for p, _ in sim.tree.filtered_direct_path(0)] == [1, 3]
    sim.commit(0)
    sim.add()  # leaf 4: unmerged at the (new) blank root? the root is blank after extension
    assert sim.tree.resolution(7) == [3, 8]
    assert sim.tree.resolution(3, exclude={4}) == [3]


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 12), st.integers(1, 6), st.randoms(use_true_random=False))
def test_original_sibling_tree_hash_equals_an_edited_tree(n: int, k: int, rnd: object) -> None:
    # RFC 9420 7.9: the hash of S with P's unmerged leaves blanked and removed
    # from every unmerged_leaves list, computed without building that tree.
    import dataclasses

    from accord.mls.parent_hash import original_sibling_tree_hash

    sim = GroupSim(SUITE)
    sim.commit(0, tuple(sim.add() for _ in range(n)))
    added = [sim.add() for _ in range(k)]
    tree = sim.tree
    removed = set(rnd.sample(added, rnd.randint(1, len(added))))  # type: ignore[attr-defined]
    edited = tree.copy()
    for x in range(edited.width):
        node = edited.node(x)
        if node is None:
            continue
        if x % 2 == 0 and x // 2 in removed:
            edited.set_node(x, None)
        elif x % 2 == 1:
            kept = tuple(u for u in node.unmerged_leaves if u not in removed)  # type: ignore[union-attr]
            edited.set_node(x, dataclasses.replace(node, unmerged_leaves=kept))
    for s in range(tree.width):
        assert original_sibling_tree_hash(tree, s, removed) == edited.tree_hash(s)
