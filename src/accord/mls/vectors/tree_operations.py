"""tree-operations.json: Add, Update and Remove applied to a tree (RFC 9420 12.1, 7.7, 7.8)."""

from __future__ import annotations

from typing import Any

from accord.mls import structs as s
from accord.mls.codec import decode
from accord.mls.ratchet_tree import Tree
from accord.mls.suites import get_suite
from accord.mls.vectors import VectorMismatch, expect, h


def check(entry: dict[str, Any]) -> None:
    suite = get_suite(int(entry["cipher_suite"]))
    tree = Tree.from_bytes(suite, h(entry["tree_before"]))
    expect("tree_hash_before", tree.tree_hash(), entry["tree_hash_before"])
    proposal = decode(s.Proposal, h(entry["proposal"]))
    sender = int(entry["proposal_sender"])
    if isinstance(proposal, s.Add):
        tree.add_leaf(proposal.key_package.leaf_node)
    elif isinstance(proposal, s.Update):
        tree.update_leaf(sender, proposal.leaf_node)
    elif isinstance(proposal, s.Remove):
        tree.remove_leaf(proposal.removed)
    else:
        raise VectorMismatch(f"unexpected proposal type {type(proposal).__name__}")
    expect("tree_after", tree.to_bytes(), entry["tree_after"])
    expect("tree_hash_after", tree.tree_hash(), entry["tree_hash_after"])
    # The hash cache must agree with a tree built afresh from the same bytes.
    expect(
        "tree_hash_after (fresh)",
        Tree.from_bytes(suite, tree.to_bytes()).tree_hash(),
        entry["tree_hash_after"],
    )
