"""Ratchet tree and TreeKEM at scale: build, join (full validation), update paths.

``accord bench mls-tree [--json] [--members N] [--suite S] [--repeats R]``
(or ``python bench/mls_tree.py ...``).

Two tree shapes of N members (default 10,000), because the cost of an
UpdatePath depends on how many parent nodes are filled:

- ``sparse``: a group just created: the creator adds N-1 members (KeyPackage
  leaves) and commits with a path. Only the creator's direct path is filled.
  A later update by another member must encrypt to about N leaves (RFC 9420
  7.6: the resolution of a blank subtree is all its members), so it is shown
  once, not repeated.
- ``full``: the steady state after many commits: every parent node with a
  member below it is filled and parent-hash valid (built directly: for each
  parent, the child on the side of the member that committed last carries the
  parent hash, as a sequence of commits would leave it). An update encrypts to
  about log2(N) nodes.

For each: the ratchet_tree bytes, joining (decode + ``validate_tree``: tree
hash, every parent hash, every leaf signature and capabilities, unmerged
leaves, key uniqueness), creating an update path (on a ``copy()`` of the tree,
as a group stages a pending commit) and processing it as another member.
Times are milliseconds (best of R runs for the repeated operations).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from accord.mls.credentials import BasicCredentials
from accord.mls.key_package import create_key_package
from accord.mls.leaf_node import make_capabilities, sign_leaf_node
from accord.mls.parent_hash import parent_hash
from accord.mls.ratchet_tree import Tree
from accord.mls.structs.credential import Credential
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.tree_nodes import LeafNode, Lifetime, ParentNode
from accord.mls.suites import CipherSuite, get_suite
from accord.mls.tree_math import left_of, level, right_of
from accord.mls.tree_validation import validate_tree
from accord.mls.treekem import PathKeys, create_update_path, process_update_path

GROUP_ID = b"bench-group"
NOW = 1_700_000_000
LIFETIME = Lifetime(NOW - 3600, NOW + 86_400 * 90)


# CPU time of this process per operation (best of the runs), next to wall
# time: the benchmark machine is shared, and under load the wall clock
# measures the neighbours as much as this code.
CPU: dict[str, float] = {}


def _ms(fn: Callable[[], Any], repeats: int = 1, name: str = "") -> tuple[float, Any]:
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    if name:
        CPU[name] = round(best_cpu * 1000, 2)
    return round(best * 1000, 2), out


def _context(tree: Tree, epoch: int) -> GroupContext:
    return GroupContext(1, tree.suite.id, GROUP_ID, epoch, tree.tree_hash(), b"\x00" * 32, ())


class Members:
    """Signature keys of every member (index = leaf) and a few private path keys."""

    def __init__(self, suite: CipherSuite, n: int) -> None:
        self.suite = suite
        self.sig = [suite.generate_signature_key_pair() for _ in range(n)]
        self.caps = make_capabilities(suite.id, grease=False)

    def leaf(self, i: int, enc_pub: bytes, parent_hash: bytes) -> LeafNode:
        priv, pub = self.sig[i]
        node = LeafNode(
            enc_pub,
            pub,
            Credential.basic(b"member-%d" % i),
            self.caps,
            3,
            None,
            parent_hash,
            (),
            b"",
        )
        return sign_leaf_node(self.suite, priv, node, GROUP_ID, i)


def sparse_tree(
    suite: CipherSuite, n: int, out: dict[str, Any]
) -> tuple[Tree, Members, dict[int, PathKeys]]:
    members = Members(suite, n)
    t = time.perf_counter()
    kps = [
        create_key_package(
            suite, members.sig[i][0], Credential.basic(b"member-%d" % i), LIFETIME, grease=False
        )
        for i in range(n)
    ]
    out["sparse_key_packages_ms"] = round((time.perf_counter() - t) * 1000)
    tree = Tree(suite, [kps[0][0].leaf_node])
    keys = {0: PathKeys({0: kps[0][1].encryption_priv})}

    def add_all() -> tuple[int, ...]:
        return tuple(tree.add_leaf(kp.leaf_node) for kp, _ in kps[1:])

    out["sparse_add_leaves_ms"], added = _ms(add_all)
    ctx = _context(tree, 1)
    out["sparse_creator_path_create_ms"], created = _ms(
        lambda: create_update_path(tree, 0, members.sig[0][0], ctx, exclude=added)
    )
    keys[0] = created.keys
    for m in (1, n // 2):
        keys[m] = PathKeys({2 * m: kps[m][1].encryption_priv})
    return tree, members, keys


def full_tree(
    suite: CipherSuite, n: int
) -> tuple[Tree, Members, dict[int, bytes], dict[int, bytes]]:
    """Every parent above a member is filled, the chain of parent hashes
    running down the side of the rightmost member of each subtree."""
    members = Members(suite, n)
    width = 2 * (1 << max(0, (n - 1).bit_length())) - 1
    tree = Tree(suite, [None] * width)
    privs: dict[int, bytes] = {}
    stale = os.urandom(suite.hash_len)

    def has_members(x: int) -> bool:
        return x - ((1 << level(x)) - 1) < 2 * n  # leftmost leaf of x is a member

    def fill(x: int, ph: bytes) -> None:
        if x & 1 == 0:
            priv, pub = suite.generate_hpke_key_pair()
            privs[x] = priv
            tree.set_node(x, members.leaf(x >> 1, pub, ph))
            return
        priv, pub = suite.generate_hpke_key_pair()
        privs[x] = priv
        tree.set_node(x, ParentNode(pub, ph, ()))
        lc, rc = left_of(x), right_of(x)
        owner, other = (rc, lc) if has_members(rc) else (lc, rc)
        if has_members(other):
            fill(other, stale)
        fill(owner, parent_hash(tree, x, tree.tree_hash(other)))

    fill(tree.root, b"")
    return tree, members, privs, {}


def _keys_for(tree: Tree, leaf: int, privs: dict[int, bytes]) -> PathKeys:
    return PathKeys({x: privs[x] for x in [2 * leaf, *tree.direct_path(2 * leaf)] if x in privs})


def _join(tree: Tree, suite: CipherSuite, epoch: int, out: dict[str, Any], prefix: str) -> None:
    data = tree.to_bytes()
    out[f"{prefix}_ratchet_tree_bytes"] = len(data)
    ctx = _context(tree, epoch)

    def join() -> Tree:
        t = Tree.from_bytes(suite, data)
        validate_tree(t, ctx, now=NOW, credential_validator=BasicCredentials())
        return t

    out[f"{prefix}_decode_ms"], _ = _ms(lambda: Tree.from_bytes(suite, data), 3)
    out[f"{prefix}_join_validate_ms"], _ = _ms(join, 3, f"{prefix}_join_validate_cpu_ms")


def _update(
    tree: Tree,
    sender: int,
    sig: bytes,
    receiver: int,
    keys: PathKeys,
    repeats: tuple[int, int],
    out: dict[str, Any],
    prefix: str,
) -> None:
    """Create an update path on a copy of the tree (as a pending commit), then
    process it as ``receiver`` on another copy; ``repeats``: (create, process)."""
    ctx = _context(tree, 2)
    tree.find_encryption_key(b"")  # the index a long-lived group state already has
    out[f"{prefix}_copy_ms"], _ = _ms(tree.copy, repeats[1])
    out[f"{prefix}_update_create_ms"], created = _ms(
        lambda: create_update_path(tree.copy(), sender, sig, ctx),
        repeats[0],
        f"{prefix}_update_create_cpu_ms",
    )
    out[f"{prefix}_update_ciphertexts"] = sum(
        len(x.encrypted_path_secret) for x in created.update_path.nodes
    )
    out[f"{prefix}_update_process_ms"], got = _ms(
        lambda: process_update_path(tree.copy(), sender, created.update_path, receiver, keys, ctx),
        repeats[1],
        f"{prefix}_update_process_cpu_ms",
    )
    assert got.commit_secret == created.commit_secret


def run(n: int, suite_id: int, repeats: int, shapes: tuple[str, ...]) -> dict[str, Any]:
    suite = get_suite(suite_id)
    out: dict[str, Any] = {"members": n, "suite": suite_id}
    if "full" in shapes:
        t = time.perf_counter()
        tree, members, privs, _ = full_tree(suite, n)
        tree.tree_hash()
        out["full_build_ms"] = round((time.perf_counter() - t) * 1000)
        _join(tree, suite, 1, out, "full")
        sender, receiver = n // 2, 0
        _update(
            tree,
            sender,
            members.sig[sender][0],
            receiver,
            _keys_for(tree, receiver, privs),
            (repeats, repeats),
            out,
            "full",
        )
    if "sparse" in shapes:
        tree, members, keys = sparse_tree(suite, n, out)
        _join(tree, suite, 1, out, "sparse")
        # Member 1 updates: its copath is blank subtrees, so ~N ciphertexts (7.6).
        _update(tree, 1, members.sig[1][0], n // 2, keys[n // 2], (1, repeats), out, "sparse")
    out.update(CPU)
    return out


def cli_main(args: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="accord bench mls-tree")
    p.add_argument("--members", type=int, default=10_000)
    p.add_argument("--suite", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--shapes", default="full,sparse")
    a = p.parse_args(args)
    return run(a.members, a.suite, a.repeats, tuple(a.shapes.split(",")))


if __name__ == "__main__":
    for k, v in cli_main(sys.argv[1:]).items():
        print(f"{k:34} {v}")
