"""treekem.json: processing and creating UpdatePaths (RFC 9420 7.4-7.6, 12.4.2).

For every UpdatePath of an entry, every leaf with private keys processes it
and must find the expected path secret and commit secret; the merged tree must
have the expected hash. Then each sender makes a fresh UpdatePath, and every
other leaf with private keys must derive the same commit secret from it.
"""

from __future__ import annotations

from typing import Any

from accord.mls import structs as s
from accord.mls.ratchet_tree import Tree
from accord.mls.suites import get_suite
from accord.mls.treekem import (
    PathKeys,
    create_update_path,
    merge_update_path,
    node_key_pair,
    process_update_path,
)
from accord.mls.vectors import expect, h


def _private_states(tree: Tree, entry: dict[str, Any]) -> dict[int, tuple[PathKeys, bytes]]:
    """leaf index -> (private keys, signature private key), checked against the tree."""
    states = {}
    for lp in entry["leaves_private"]:
        leaf = int(lp["index"])
        keys = {2 * leaf: h(lp["encryption_priv"])}
        for ps in lp["path_secrets"]:
            keys[int(ps["node"])] = node_key_pair(tree.suite, h(ps["path_secret"]))[0]
        pk = PathKeys(keys)
        pk.check(tree)
        states[leaf] = (pk, h(lp["signature_priv"]))
    return states


def check(entry: dict[str, Any]) -> None:
    suite = get_suite(int(entry["cipher_suite"]))
    tree = Tree.from_bytes(suite, h(entry["ratchet_tree"]))
    states = _private_states(tree, entry)
    context = s.GroupContext(
        1,
        suite.id,
        h(entry["group_id"]),
        int(entry["epoch"]),
        tree.tree_hash(),
        h(entry["confirmed_transcript_hash"]),
        (),
    )
    for n, up in enumerate(entry["update_paths"]):
        sender = int(up["sender"])
        path = s.UpdatePath.from_bytes(h(up["update_path"]))
        merged = tree.copy()
        merge_update_path(merged, sender, path, context.group_id)
        expect(f"update_paths[{n}].tree_hash_after", merged.tree_hash(), up["tree_hash_after"])
        for leaf, (keys, _) in states.items():
            if leaf == sender:
                continue
            got = process_update_path(tree.copy(), sender, path, leaf, keys, context)
            expect(
                f"update_paths[{n}].path_secrets[{leaf}]", got.path_secret, up["path_secrets"][leaf]
            )
            expect(
                f"update_paths[{n}].commit_secret ({leaf})", got.commit_secret, up["commit_secret"]
            )
        _check_fresh_path(tree, states, sender, context, n)


def _check_fresh_path(
    tree: Tree,
    states: dict[int, tuple[PathKeys, bytes]],
    sender: int,
    context: s.GroupContext,
    n: int,
) -> None:
    created = create_update_path(tree.copy(), sender, states[sender][1], context)
    for leaf, (keys, _) in states.items():
        if leaf == sender:
            continue
        got = process_update_path(tree.copy(), sender, created.update_path, leaf, keys, context)
        expect(f"fresh path {n}: commit_secret ({leaf})", got.commit_secret, created.commit_secret)
