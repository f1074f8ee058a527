"""A received tree that was tampered with is rejected (RFC 9420 12.4.3.1; THREATS.md T03)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import DecodeError, ValidationError
from accord.mls.credentials import BasicCredentials
from accord.mls.leaf_node import sign_leaf_node
from accord.mls.ratchet_tree import Tree
from accord.mls.structs.credential import Extension, RequiredCapabilities
from accord.mls.structs.tree_nodes import LeafNode, Lifetime, ParentNode
from accord.mls.suites import get_suite
from accord.mls.tree_validation import validate_tree
from tests.mls.tree_sim import NOW, GroupSim

SUITE = get_suite(1)
CREDS = BasicCredentials()


def _group() -> GroupSim:
    sim = GroupSim(SUITE)
    sim.commit(0, tuple(sim.add() for _ in range(6)))
    sim.commit(3)
    sim.commit(5)
    sim.add()  # leaf 7, unmerged at its non-blank ancestors 11 and 7
    return sim


GROUP = _group()


def _validate(tree: Tree, sim: GroupSim = GROUP) -> None:
    ctx = dataclasses.replace(sim.context(), tree_hash=tree.tree_hash())
    validate_tree(tree, ctx, now=NOW, credential_validator=CREDS)


def test_untampered_group_validates() -> None:
    _validate(Tree.from_bytes(SUITE, GROUP.tree.to_bytes()))
    assert any(
        GROUP.tree.node(p) and GROUP.tree.node(p).unmerged_leaves
        for p in range(1, GROUP.tree.width, 2)
    )  # type: ignore[union-attr]


def _flip(data: bytes, i: int, bit: int) -> bytes:
    b = bytearray(data)
    b[i] ^= 1 << bit
    return bytes(b)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_signature_bit_is_rejected(data: st.DataObject) -> None:
    leaf_index, leaf = data.draw(st.sampled_from(list(GROUP.tree.leaves())))
    i = data.draw(st.integers(0, len(leaf.signature) - 1))
    bit = data.draw(st.integers(0, 7))
    tree = GROUP.tree.copy()
    tree.set_node(
        2 * leaf_index, dataclasses.replace(leaf, signature=_flip(leaf.signature, i, bit))
    )
    with pytest.raises(ValidationError) as e:
        _validate(tree)
    assert e.value.rule == "RFC 9420 7.3"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_parent_hash_bit_is_rejected(data: st.DataObject) -> None:
    tree = GROUP.tree.copy()
    parents = [p for p in range(1, tree.width, 2) if tree.node(p) is not None]
    p = data.draw(st.sampled_from(parents))
    node = tree.parent_node(p)
    assert node is not None
    if not node.parent_hash:  # the top of a chain has an empty parent hash: tamper by adding one
        bad = dataclasses.replace(node, parent_hash=b"\x00" * 32)
    else:
        i = data.draw(st.integers(0, len(node.parent_hash) - 1))
        bad = dataclasses.replace(
            node, parent_hash=_flip(node.parent_hash, i, data.draw(st.integers(0, 7)))
        )
    tree.set_node(p, bad)
    with pytest.raises(ValidationError) as e:
        _validate(tree)
    assert e.value.rule == "RFC 9420 7.9.2"


def test_leaf_parent_hash_tampering_is_a_signature_or_chain_failure() -> None:
    tree = GROUP.tree.copy()
    leaf_index, leaf = next((i, n) for i, n in tree.leaves() if n.parent_hash)
    tree.set_node(
        2 * leaf_index, dataclasses.replace(leaf, parent_hash=_flip(leaf.parent_hash or b"", 0, 0))
    )
    with pytest.raises(ValidationError):
        _validate(tree)


def test_replaced_parent_key_is_rejected() -> None:
    tree = GROUP.tree.copy()
    p = tree.root
    node = tree.parent_node(p)
    assert node is not None
    _, pub = SUITE.generate_hpke_key_pair()
    tree.set_node(p, dataclasses.replace(node, encryption_key=pub))
    with pytest.raises(ValidationError) as e:
        _validate(tree)
    assert e.value.rule == "RFC 9420 7.9.2"


def test_wrong_tree_hash_is_rejected() -> None:
    ctx = dataclasses.replace(GROUP.context(), tree_hash=b"\x00" * 32)
    with pytest.raises(ValidationError) as e:
        validate_tree(GROUP.tree, ctx, now=NOW, credential_validator=CREDS)
    assert e.value.rule == "RFC 9420 12.4.3.1"


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_flipped_bit_of_the_encoded_tree_is_rejected(data: st.DataObject) -> None:
    raw = GROUP.tree.to_bytes()
    i = data.draw(st.integers(0, len(raw) - 1))
    bad = _flip(raw, i, data.draw(st.integers(0, 7)))
    # The GroupInfo's tree hash is of the real tree, so any change is caught: a flip
    # in a length or a code point fails decoding, any other fails validation.
    with pytest.raises((DecodeError, ValidationError)):
        tree = Tree.from_bytes(SUITE, bad)
        validate_tree(tree, GROUP.context(), now=NOW, credential_validator=CREDS)


def _unmerged_parent(tree: Tree) -> int:
    return next(
        p for p in range(1, tree.width, 2) if (n := tree.parent_node(p)) and n.unmerged_leaves
    )


def test_unmerged_leaf_that_is_not_below_is_rejected() -> None:
    tree = GROUP.tree.copy()
    p = tree.root
    node = tree.parent_node(p)
    assert node is not None
    tree.set_node(p, dataclasses.replace(node, unmerged_leaves=node.unmerged_leaves + (99,)))
    with pytest.raises(ValidationError):
        _validate(tree)


def test_unmerged_leaf_missing_at_intermediate_node_is_rejected() -> None:
    # Build by hand: leaf 8 is unmerged at the root but not at a non-blank node between.
    tree = GROUP.tree.copy()
    p = _unmerged_parent(tree)
    node = tree.parent_node(p)
    assert node is not None
    tree.set_node(p, ParentNode(node.encryption_key, node.parent_hash, ()))
    with pytest.raises(ValidationError):
        _validate(tree)


def test_duplicate_encryption_key_is_rejected() -> None:
    # No commit: every parent is blank, so only the uniqueness rule can object.
    sim = GroupSim(SUITE)
    sim.add(), sim.add()
    tree = sim.tree.copy()
    leaf = tree.leaf(2)
    other = tree.leaf(1)
    assert leaf is not None and other is not None
    dup = dataclasses.replace(leaf, encryption_key=other.encryption_key)
    dup = sign_leaf_node(SUITE, sim.sig[2], dup)
    tree.set_node(4, dup)
    with pytest.raises(ValidationError) as e:
        _validate(tree, sim)
    assert "encryption key" in str(e.value)


def test_duplicate_signature_key_is_rejected() -> None:
    # No commit: every parent is blank, so only the uniqueness rule can object.
    sim = GroupSim(SUITE)
    sim.add(), sim.add()
    tree = sim.tree.copy()
    leaf = tree.leaf(2)
    other = tree.leaf(1)
    assert leaf is not None and other is not None
    dup = dataclasses.replace(leaf, signature_key=other.signature_key)
    dup = sign_leaf_node(SUITE, sim.sig[1], dup)
    tree.set_node(4, dup)
    with pytest.raises(ValidationError) as e:
        _validate(tree, sim)
    assert "signature key" in str(e.value)


def test_required_capabilities_and_lifetime() -> None:
    sim = GroupSim(SUITE)
    sim.add()
    req = RequiredCapabilities((0x0F01,), (), ())
    ext = Extension(3, req.to_bytes())  # type: ignore[attr-defined]
    ctx = dataclasses.replace(sim.context(), extensions=(ext,))
    with pytest.raises(ValidationError) as e:
        validate_tree(sim.tree, ctx, now=NOW, credential_validator=CREDS)
    assert e.value.rule == "RFC 9420 7.3"
    with pytest.raises(ValidationError, match="lifetime"):
        validate_tree(sim.tree, sim.context(), now=3_000_000_000, credential_validator=CREDS)
    validate_tree(sim.tree, sim.context(), now=None, credential_validator=CREDS)


def test_grease_in_capabilities_is_tolerated() -> None:
    leaf = GROUP.tree.leaf(0)
    assert leaf is not None
    assert any(v & 0x0F0F == 0x0A0A for v in leaf.capabilities.cipher_suites)
    _validate(GROUP.tree)


def test_leaf_with_unlisted_extension_is_rejected() -> None:
    sim = GroupSim(SUITE)
    sim.add()
    tree = sim.tree.copy()
    leaf = tree.leaf(1)
    assert isinstance(leaf, LeafNode)
    bad = dataclasses.replace(
        leaf, extensions=leaf.extensions + (Extension(0xF000, b""),), lifetime=Lifetime(0, 2**40)
    )
    bad = sign_leaf_node(SUITE, sim.sig[1], bad)
    tree.set_node(2, bad)
    with pytest.raises(ValidationError, match="extension"):
        _validate(tree, sim)
