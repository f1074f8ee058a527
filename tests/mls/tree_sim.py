"""A small simulated group over the ratchet tree and TreeKEM, for tree tests.

It holds every member's signature key and private path keys, applies
proposals to the tree the way RFC 9420 12.1 does, and makes every commit go
through ``create_update_path`` and, for every other member,
``process_update_path``, asserting that all agree.
"""

from __future__ import annotations

import dataclasses

from accord.mls.key_package import create_key_package
from accord.mls.leaf_node import sign_leaf_node
from accord.mls.ratchet_tree import Tree
from accord.mls.structs.credential import Credential
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.tree_nodes import LeafNode, Lifetime
from accord.mls.suites import CipherSuite
from accord.mls.tree_math import common_ancestor
from accord.mls.treekem import PathKeys, create_update_path, derive_path_keys, process_update_path

LIFETIME = Lifetime(1_000, 2_000_000_000)
NOW = 1_700_000_000


class GroupSim:
    def __init__(self, suite: CipherSuite, group_id: bytes = b"group") -> None:
        self.suite = suite
        self.group_id = group_id
        self.epoch = 0
        self.sig: dict[int, bytes] = {}
        self.keys: dict[int, PathKeys] = {}
        self._counter = 0
        leaf, sig_priv, enc_priv = self._key_package_leaf()
        self.tree = Tree(suite, [leaf])
        self.sig[0] = sig_priv
        self.keys[0] = PathKeys({0: enc_priv})

    def _key_package_leaf(self) -> tuple[LeafNode, bytes, bytes]:
        self._counter += 1
        sig_priv, _ = self.suite.generate_signature_key_pair()
        cred = Credential.basic(f"member-{self._counter}".encode())
        kp, secrets = create_key_package(self.suite, sig_priv, cred, LIFETIME)
        return kp.leaf_node, sig_priv, secrets.encryption_priv

    def context(self, epoch: int | None = None) -> GroupContext:
        e = self.epoch if epoch is None else epoch
        return GroupContext(1, self.suite.id, self.group_id, e, self.tree.tree_hash(), b"", ())

    def members(self) -> list[int]:
        return [leaf for leaf, _ in self.tree.leaves()]

    def add(self) -> int:
        leaf_node, sig_priv, enc_priv = self._key_package_leaf()
        leaf = self.tree.add_leaf(leaf_node)
        self.sig[leaf] = sig_priv
        self.keys[leaf] = PathKeys({2 * leaf: enc_priv})
        return leaf

    def remove(self, leaf: int) -> None:
        self.tree.remove_leaf(leaf)
        del self.sig[leaf], self.keys[leaf]
        self._prune()

    def update(self, leaf: int) -> None:
        """An Update proposal (12.1.2): a fresh leaf with source update."""
        old = self.tree.leaf(leaf)
        assert old is not None
        priv, pub = self.suite.generate_hpke_key_pair()
        new = dataclasses.replace(
            old, encryption_key=pub, leaf_node_source=2, lifetime=None, parent_hash=None
        )
        new = sign_leaf_node(self.suite, self.sig[leaf], new, self.group_id, leaf)
        self.tree.update_leaf(leaf, new)
        self.keys[leaf] = PathKeys({2 * leaf: priv})
        self._prune()

    def _prune(self) -> None:
        for m in self.keys:
            self.keys[m] = self.keys[m].pruned(self.tree)

    def commit(self, committer: int, added: tuple[int, ...] = ()) -> bytes:
        """A commit with a path from ``committer`` after the proposals already
        applied; every other member processes it and must agree."""
        context = self.context(self.epoch + 1)
        staged = self.tree.copy()
        created = create_update_path(staged, committer, self.sig[committer], context, exclude=added)
        for m in self.members():
            if m == committer:
                continue
            if m in added:
                ca = common_ancestor(2 * m, 2 * committer)
                got = derive_path_keys(staged, ca, created.path_secrets[ca])
                self.keys[m] = self.keys[m].replaced(dict(got.items()))
                continue
            mine = self.tree.copy()
            res = process_update_path(
                mine, committer, created.update_path, m, self.keys[m], context, exclude=added
            )
            assert mine == staged and mine.tree_hash() == staged.tree_hash()
            assert res.commit_secret == created.commit_secret
            self.keys[m] = res.keys
        self.keys[committer] = created.keys
        self.tree = staged
        self.epoch += 1
        return created.commit_secret

    def check_keys(self) -> None:
        for m, keys in self.keys.items():
            keys.check(self.tree)
            assert 2 * m in keys
