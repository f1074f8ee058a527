"""Validation of a whole ratchet tree received in a Welcome or GroupInfo (RFC 9420 12.4.3.1).

API::

    validate_tree(tree, group_context, *, now, credential_validator,
                  check_signatures=True) -> None
    check_unmerged_leaves(tree) -> None
    check_key_uniqueness(tree) -> None
    check_credential_types(tree) -> None
    group_rules(group_context, tree=None) -> GroupRules

Every failure raises ``ValidationError`` whose ``rule`` names the RFC section.
"""

from __future__ import annotations

from accord.errors import ValidationError
from accord.mls.credentials import CredentialValidator
from accord.mls.leaf_node import GroupRules, required_components, validate_leaf_node
from accord.mls.parent_hash import verify_parent_hashes
from accord.mls.ratchet_tree import Tree
from accord.mls.structs.credential import RequiredCapabilities, find_extension
from accord.mls.structs.enums import ExtensionType
from accord.mls.structs.group_context import GroupContext
from accord.mls.tree_math import level, parent_of

__all__ = [
    "check_credential_types",
    "check_key_uniqueness",
    "check_unmerged_leaves",
    "group_rules",
    "validate_tree",
]

RULE = "RFC 9420 12.4.3.1"


def group_rules(group_context: GroupContext, tree: Tree | None = None) -> GroupRules:
    """What ``group_context`` (and, if given, the members of ``tree``) ask of a leaf."""
    ext = find_extension(group_context.extensions, ExtensionType.REQUIRED_CAPABILITIES)
    required = RequiredCapabilities.from_bytes(ext.extension_data) if ext else None
    creds: frozenset[int] = frozenset()
    supported: frozenset[int] | None = None
    if tree is not None:
        creds = frozenset(n.credential.credential_type for _, n in tree.leaves())
        for _, n in tree.leaves():
            mine = frozenset(n.capabilities.credentials)
            supported = mine if supported is None else supported & mine
    components, safe_aad = required_components(group_context.extensions)
    return GroupRules(
        cipher_suite=group_context.cipher_suite,
        version=group_context.version,
        required=required,
        context_extensions=tuple(e.extension_type for e in group_context.extensions),
        credential_types=creds,
        supported_by_all=supported,
        components=components,
        safe_aad=safe_aad,
    )


def validate_tree(
    tree: Tree,
    group_context: GroupContext,
    *,
    now: int | None,
    credential_validator: CredentialValidator,
    check_signatures: bool = True,
    check_lifetimes: bool = True,
) -> None:
    """Everything 12.4.3.1 asks of the tree of a group being joined: the tree
    hash, parent hashes, every leaf (7.3), unmerged leaves, key uniqueness.
    ``check_lifetimes`` False skips the leaves' lifetimes, which 7.3 only
    RECOMMENDS checking in a received tree (a joiner passes False)."""
    if tree.tree_hash() != group_context.tree_hash:
        raise ValidationError("the tree hash does not match the GroupContext", RULE)
    if tree.suite.id != group_context.cipher_suite:
        raise ValidationError("the tree's cipher suite is not the group's", RULE)
    rules = group_rules(group_context, tree)
    for leaf_index, leaf in tree.leaves():
        validate_leaf_node(
            tree.suite,
            leaf,
            source=None,
            group_id=group_context.group_id,
            leaf_index=leaf_index,
            rules=rules,
            now=now,
            credential_validator=credential_validator,
            check_signature=check_signatures,
            encoded=tree.leaf_encoding(leaf_index),
            check_lifetime=check_lifetimes,
        )
    # Leaves first: a changed leaf also breaks the parent hashes above it,
    # and the leaf's own error names the cause.
    verify_parent_hashes(tree)
    check_credential_types(tree)
    check_unmerged_leaves(tree)
    check_key_uniqueness(tree)


def check_credential_types(tree: Tree) -> None:
    """Every member supports every credential type in use (7.3)."""
    in_use = {n.credential.credential_type for _, n in tree.leaves()}
    for leaf_index, leaf in tree.leaves():
        missing = in_use.difference(leaf.capabilities.credentials)
        if missing:
            raise ValidationError(
                f"leaf {leaf_index} does not support credential type(s) {sorted(missing)} in use",
                "RFC 9420 7.3",
            )


def check_unmerged_leaves(tree: Tree) -> None:
    """Each unmerged leaf of a parent is a non-blank descendant, and every
    non-blank node between it and that parent lists it too (12.4.3.1)."""
    listed: dict[int, frozenset[int]] = {}
    for p in range(1, tree.width, 2):
        node = tree.parent_node(p)
        if node is not None:
            listed[p] = frozenset(node.unmerged_leaves)
            if len(listed[p]) != len(node.unmerged_leaves):
                raise ValidationError(f"node {p} lists an unmerged leaf twice", RULE)
    for p, leaves in listed.items():
        half = 1 << level(p)
        for u in leaves:
            x = 2 * u
            if not (abs(x - p) < half and x < tree.width) or tree.node(x) is None:
                raise ValidationError(
                    f"unmerged leaf {u} of node {p} is not a member below it", RULE
                )
            y = parent_of(x)
            while y != p:
                if y in listed and u not in listed[y]:
                    raise ValidationError(
                        f"node {y} does not list unmerged leaf {u} of node {p}", RULE
                    )
                y = parent_of(y)


def check_key_uniqueness(tree: Tree) -> None:
    """Encryption keys are unique among all nodes and signature keys among
    all leaves (7.3, 12.4.3.1)."""
    seen_enc: set[bytes] = set()
    for x in range(tree.width):
        n = tree.node(x)
        if n is None:
            continue
        if n.encryption_key in seen_enc:
            raise ValidationError(f"node {x} repeats an encryption key", "RFC 9420 7.3")
        seen_enc.add(n.encryption_key)
    seen_sig: set[bytes] = set()
    for leaf_index, leaf in tree.leaves():
        if leaf.signature_key in seen_sig:
            raise ValidationError(f"leaf {leaf_index} repeats a signature key", "RFC 9420 7.3")
        seen_sig.add(leaf.signature_key)
