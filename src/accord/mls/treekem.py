"""TreeKEM: creating and processing UpdatePaths (RFC 9420 7.4-7.6, 7.9, 12.4.1, 12.4.2).

All functions change the ``Tree`` they are given: pass a ``tree.copy()`` when
the result may be discarded (a pending commit). Private keys live in
``PathKeys`` values, which are immutable: processing returns a new one.

API::

    PathKeys(keys: Mapping[int, bytes])      # node index -> HPKE private key
      .get(x), x in keys, .nodes(), .replaced(new, drop), .pruned(tree), .check(tree)
    create_update_path(tree, sender, signature_priv, group_context, *,
                       leaf=None, exclude=(), rng=os.urandom) -> CreatedPath
        # .update_path, .commit_secret, .path_secrets (node -> secret), .keys
    merge_update_path(tree, sender, path, group_id=None) -> list[(parent, copath child)]
    check_path_ciphertexts(tree, fdp, path, exclude=())   # 7.6 counts, after the merge
    process_update_path(tree, sender, path, my_leaf, keys, group_context, *,
                        exclude=()) -> ProcessedPath   # .commit_secret, .keys, .path_secret
    derive_path_keys(tree, node, path_secret) -> PathKeys   # Welcome's path_secret (12.4.3.1)
    node_key_pair(suite, path_secret) -> (priv, pub)

``group_context`` is the provisional GroupContext of 12.4.2 (new epoch and
extensions, old confirmed transcript hash); its ``tree_hash`` is replaced by
the hash of the tree after the path is merged, which is what HPKE binds to.
``exclude`` holds the leaf indices added by the same commit (7.6, 12.4.2).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection, Iterable, Mapping

from accord.errors import ValidationError
from accord.mls.leaf_node import sign_leaf_node, verify_leaf_signature
from accord.mls.parent_hash import chain_parent_hashes
from accord.mls.ratchet_tree import Tree
from accord.mls.structs.enums import LeafNodeSource
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.tree_nodes import (
    HPKECiphertext,
    LeafNode,
    ParentNode,
    UpdatePath,
    UpdatePathNode,
)
from accord.mls.suites import CipherSuite
from accord.mls.tree_math import level

__all__ = [
    "CreatedPath",
    "PathKeys",
    "ProcessedPath",
    "check_path_ciphertexts",
    "create_update_path",
    "derive_path_keys",
    "merge_update_path",
    "node_key_pair",
    "process_update_path",
]

RULE = "RFC 9420 12.4.2"
LABEL = "UpdatePathNode"


class PathKeys:
    """The HPKE private keys a member holds, by node index: its leaf and the
    nodes of its direct path it learnt (the tree invariant, 4.2). Immutable;
    a dozen entries, so copying per epoch is free. Never shows the keys."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[int, bytes] | None = None) -> None:
        self._keys: dict[int, bytes] = dict(keys or {})

    def get(self, x: int) -> bytes | None:
        return self._keys.get(x)

    def __contains__(self, x: object) -> bool:
        return x in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def nodes(self) -> list[int]:
        return sorted(self._keys)

    def items(self) -> list[tuple[int, bytes]]:
        return sorted(self._keys.items())

    def replaced(self, new: Mapping[int, bytes], drop: Iterable[int] = ()) -> PathKeys:
        """A copy without the nodes in ``drop`` and with ``new`` added."""
        keys = dict(self._keys)
        for x in drop:
            keys.pop(x, None)
        keys.update(new)
        return PathKeys(keys)

    def pruned(self, tree: Tree) -> PathKeys:
        """Without the keys of nodes that are now blank or outside the tree
        (blanked by Update/Remove proposals, dropped by truncation): outdated
        key material is deleted (12.4.2)."""
        keep = {x: k for x, k in self._keys.items() if x < tree.width and tree.node(x) is not None}
        return self if len(keep) == len(self._keys) else PathKeys(keep)

    def check(self, tree: Tree) -> None:
        """Every key belongs to a non-blank node whose public key matches (4.2)."""
        for x, priv in self._keys.items():
            node = tree.node(x) if x < tree.width else None
            if node is None or tree.suite.hpke_public_key(priv) != node.encryption_key:
                raise ValidationError(
                    f"private key for node {x} does not match the tree", "RFC 9420 4.2"
                )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathKeys) and self._keys == other._keys

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PathKeys(nodes={self.nodes()})"


def node_key_pair(suite: CipherSuite, path_secret: bytes) -> tuple[bytes, bytes]:
    """7.4: node_priv, node_pub = DeriveKeyPair(DeriveSecret(path_secret, "node"))."""
    return suite.derive_hpke_key_pair(suite.derive_secret(path_secret, "node"))


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class CreatedPath:
    update_path: UpdatePath
    commit_secret: bytes
    path_secrets: Mapping[int, bytes]  # node index -> path secret, for Welcome (12.4.3.1)
    keys: PathKeys  # the committer's private keys after the commit


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class ProcessedPath:
    commit_secret: bytes
    keys: PathKeys  # the receiver's private keys after the commit
    path_secret: bytes  # the one decrypted
    node: int  # the filtered-direct-path node it belongs to


def create_update_path(
    tree: Tree,
    sender: int,
    signature_priv: bytes,
    group_context: GroupContext,
    *,
    leaf: LeafNode | None = None,
    exclude: Collection[int] = (),
    rng: Callable[[int], bytes] = os.urandom,
) -> CreatedPath:
    """Refresh ``sender``'s leaf and filtered direct path (7.4, 7.5) and
    encrypt the path secrets to the copath resolutions (7.6). ``leaf`` is the
    template for the new leaf (credential, capabilities, extensions; default:
    the current one); its keys, source and parent hash are set here. For an
    external commit, put the joiner's leaf in the tree first."""
    suite = tree.suite
    template = leaf if leaf is not None else tree.leaf(sender)
    if template is None:
        raise ValidationError(f"leaf {sender} is blank", RULE)
    leaf_secret = rng(suite.kdf_len)
    leaf_priv, leaf_pub = node_key_pair(suite, leaf_secret)
    fdp = tree.filtered_direct_path(sender)
    secrets: dict[int, bytes] = {}
    privs: dict[int, bytes] = {2 * sender: leaf_priv}
    pubs: list[bytes] = []
    ps = suite.derive_secret(leaf_secret, "path")
    for p, _ in fdp:
        secrets[p] = ps
        privs[p], pub = node_key_pair(suite, ps)
        pubs.append(pub)
        ps = suite.derive_secret(ps, "path")
    commit_secret = ps  # 12.4.2: path_secret[n+1], or path_secret[0] if fdp is empty
    leaf_ph = _install_path(tree, sender, fdp, pubs, None)
    new_leaf = dataclasses.replace(
        template,
        encryption_key=leaf_pub,
        leaf_node_source=LeafNodeSource.COMMIT,
        lifetime=None,
        parent_hash=leaf_ph,
        signature=b"",
    )
    new_leaf = sign_leaf_node(suite, signature_priv, new_leaf, group_context.group_id, sender)
    tree.set_node(2 * sender, new_leaf)
    ctx = dataclasses.replace(group_context, tree_hash=tree.tree_hash()).to_bytes()
    nodes = _encrypt_path_secrets(tree, fdp, pubs, secrets, ctx, exclude)
    path = UpdatePath(new_leaf, tuple(nodes))
    return CreatedPath(path, commit_secret, secrets, PathKeys(privs))


def _encrypt_path_secrets(
    tree: Tree,
    fdp: list[tuple[int, int]],
    pubs: list[bytes],
    secrets: dict[int, bytes],
    ctx: bytes,
    exclude: Collection[int],
) -> list[UpdatePathNode]:
    """7.6: each path secret, encrypted to every node of the resolution of
    the copath child, without the members added by this commit."""
    suite = tree.suite
    excluded = frozenset(exclude)
    nodes = []
    for (p, s), pub in zip(fdp, pubs, strict=True):
        cts = []
        for r in tree.resolution(s, excluded):
            target = tree.node(r)
            assert target is not None
            kem_output, ct = suite.encrypt_with_label(target.encryption_key, LABEL, ctx, secrets[p])
            cts.append(HPKECiphertext(kem_output, ct))
        nodes.append(UpdatePathNode(pub, tuple(cts)))
    return nodes


def _install_path(
    tree: Tree, sender: int, fdp: list[tuple[int, int]], pubs: list[bytes], leaf: LeafNode | None
) -> bytes:
    """Blank the direct path, set the new parent nodes with their parent
    hashes (7.5 merge steps 1-3) and return the parent hash the leaf must carry."""
    fields, leaf_ph = chain_parent_hashes(tree, fdp, pubs)
    tree.blank_direct_path(sender)
    for (p, _), pub, ph in zip(fdp, pubs, fields, strict=True):
        tree.set_node(p, ParentNode(pub, ph, ()))
    if leaf is not None:
        tree.set_node(2 * sender, leaf)
    return leaf_ph


def merge_update_path(
    tree: Tree, sender: int, path: UpdatePath, group_id: bytes | None = None
) -> list[tuple[int, int]]:
    """Merge a received UpdatePath into the tree (7.5), after the checks of
    12.4.2 that need no private key: source ``commit``, one node per filtered
    direct path entry, fresh keys, the leaf's parent hash, and (with
    ``group_id``) the leaf's signature. Returns the filtered direct path."""
    leaf = path.leaf_node
    if not 0 <= sender < tree.n_leaves:
        raise ValidationError(f"sender {sender} is outside the tree", RULE)
    if leaf.leaf_node_source != LeafNodeSource.COMMIT:
        raise ValidationError("the UpdatePath leaf's leaf_node_source is not commit", RULE)
    if group_id is not None:
        verify_leaf_signature(tree.suite, leaf, group_id, sender)
    fdp = tree.filtered_direct_path(sender)
    if len(path.nodes) != len(fdp):
        raise ValidationError(
            f"UpdatePath has {len(path.nodes)} nodes, the filtered direct path {len(fdp)}", RULE
        )
    pubs = [n.encryption_key for n in path.nodes]
    keys = [leaf.encryption_key, *pubs]
    if len(set(keys)) != len(keys) or any(tree.find_encryption_key(k) is not None for k in keys):
        raise ValidationError("an UpdatePath key is already in the tree", RULE)
    leaf_ph = _install_path(tree, sender, fdp, pubs, leaf)
    if leaf.parent_hash != leaf_ph:
        raise ValidationError("the UpdatePath leaf's parent_hash is wrong", "RFC 9420 7.9.2")
    return fdp


def check_path_ciphertexts(
    tree: Tree, fdp: list[tuple[int, int]], path: UpdatePath, exclude: Collection[int] = ()
) -> None:
    """7.6: each node of the path carries one ciphertext per node of its copath
    child's resolution (without the leaves the commit adds), on the tree with the
    path merged. Anyone can count them (a delivery service too); what each holds
    only its recipient can tell."""
    for (p, s), node in zip(fdp, path.nodes, strict=True):
        want = len(tree.resolution(s, exclude))
        if len(node.encrypted_path_secret) != want:
            raise ValidationError(
                f"{len(node.encrypted_path_secret)} ciphertexts for node {p}, whose copath"
                f" resolution has {want}", "RFC 9420 7.6")


def _holder(tree: Tree, keys: PathKeys, resolution: list[int]) -> int:
    for i, r in enumerate(resolution):
        if r in keys:
            return i
    raise ValidationError("no private key for any node of the copath resolution", RULE)


def process_update_path(
    tree: Tree,
    sender: int,
    path: UpdatePath,
    my_leaf: int,
    keys: PathKeys,
    group_context: GroupContext,
    *,
    exclude: Collection[int] = (),
) -> ProcessedPath:
    """Merge ``path`` (see ``merge_update_path``) and decrypt the path secret
    meant for ``my_leaf`` (7.5): returns the commit secret and the new keys."""
    if sender == my_leaf:
        raise ValidationError("a member does not process its own UpdatePath", RULE)
    old_path = tree.direct_path(2 * sender)
    fdp = merge_update_path(tree, sender, path, group_context.group_id)
    ctx = dataclasses.replace(group_context, tree_hash=tree.tree_hash()).to_bytes()
    me = 2 * my_leaf
    i = next((k for k, (_, c) in enumerate(fdp) if abs(me - c) < (1 << level(c))), -1)
    if i < 0:  # my leaf is under no copath child of the path
        raise ValidationError(
            f"leaf {my_leaf} is not below the sender's filtered direct path", RULE
        )
    check_path_ciphertexts(tree, fdp, path, exclude)
    p, s = fdp[i]
    resolution = tree.resolution(s, exclude)
    cts = path.nodes[i].encrypted_path_secret
    j = _holder(tree, keys, resolution)
    priv = keys.get(resolution[j])
    assert priv is not None
    suite = tree.suite
    ps = suite.decrypt_with_label(priv, LABEL, ctx, cts[j].kem_output, cts[j].ciphertext)
    new: dict[int, bytes] = {}
    first, x = ps, ps
    for k in range(i, len(fdp)):
        node_priv, node_pub = node_key_pair(suite, x)
        if node_pub != path.nodes[k].encryption_key:
            raise ValidationError(f"derived key of node {fdp[k][0]} does not match", RULE)
        new[fdp[k][0]] = node_priv
        x = suite.derive_secret(x, "path")
    # 12.4.2: keys replaced by the update are deleted.
    return ProcessedPath(x, keys.replaced(new, drop=old_path), first, p)


def derive_path_keys(tree: Tree, node: int, path_secret: bytes) -> PathKeys:
    """Keys of ``node`` and its non-blank ancestors from the path secret of
    ``node`` (12.4.3.1 Welcome; the ancestors are the rest of the committer's
    filtered direct path). Each derived public key must match the tree."""
    suite = tree.suite
    keys: dict[int, bytes] = {}
    ps = path_secret
    for x in [node, *tree.direct_path(node)]:
        n = tree.node(x)
        if n is None:
            if x == node:
                raise ValidationError(f"node {x} of the path secret is blank", "RFC 9420 12.4.3.1")
            continue
        priv, pub = node_key_pair(suite, ps)
        if pub != n.encryption_key:
            raise ValidationError(f"path secret does not give node {x}'s key", "RFC 9420 12.4.3.1")
        keys[x] = priv
        ps = suite.derive_secret(ps, "path")
    return PathKeys(keys)
