"""tree-validation.json: resolutions, tree hashes, parent hashes and leaf signatures
of every node (RFC 9420 4.1.1, 7.8, 7.9.2, 7.3)."""

from __future__ import annotations

from typing import Any

from accord.mls.leaf_node import verify_leaf_signature
from accord.mls.parent_hash import verify_parent_hashes
from accord.mls.ratchet_tree import Tree
from accord.mls.suites import get_suite
from accord.mls.vectors import expect, h


def check(entry: dict[str, Any]) -> None:
    suite = get_suite(int(entry["cipher_suite"]))
    tree = Tree.from_bytes(suite, h(entry["tree"]))
    expect("n_nodes", tree.width, len(entry["tree_hashes"]))
    for x, want in enumerate(entry["resolutions"]):
        expect(f"resolutions[{x}]", tree.resolution(x), want)
    for x, want in enumerate(entry["tree_hashes"]):
        expect(f"tree_hashes[{x}]", tree.tree_hash(x), want)
    verify_parent_hashes(tree)
    group_id = h(entry["group_id"])
    for leaf_index, leaf in tree.leaves():
        verify_leaf_signature(suite, leaf, group_id, leaf_index)
