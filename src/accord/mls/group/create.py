"""Creating a one-member group (RFC 9420 11)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from accord.errors import ValidationError
from accord.mls.group.epoch import fresh_state
from accord.mls.group.keys import KeyPackagePrivate, create_key_package
from accord.mls.group.proposals import check_context_extensions
from accord.mls.group.state import GroupConfig, GroupState
from accord.mls.key_schedule import derive_epoch
from accord.mls.leaf_node import check_own_capabilities, make_capabilities, required_components
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    Capabilities,
    Credential,
    Extension,
    GroupContext,
    GroupContextExtensions,
    RequiredCapabilities,
    find_extension,
)
from accord.mls.structs.app_data import AppDataDictionary, ComponentId, ComponentsList
from accord.mls.structs.enums import (
    DEFAULT_EXTENSION_TYPES,
    DEFAULT_PROPOSAL_TYPES,
    ExtensionType,
    ProtocolVersion,
)
from accord.mls.suites import CipherSuite
from accord.mls.transcript import confirmation_tag
from accord.mls.treekem import PathKeys

__all__ = ["create_group", "group_capabilities", "group_leaf_extensions"]


def group_capabilities(suite_id: int, credential: Credential,
                       extensions: tuple[Extension, ...]) -> Capabilities:
    """Capabilities for a leaf of a group with the GroupContext ``extensions``: it must
    support the group's own extensions (12.1.7) and what the group requires of every
    member (11.1), the extension and proposal types its required_capabilities names."""
    req = find_extension(extensions, ExtensionType.REQUIRED_CAPABILITIES)
    required = RequiredCapabilities.from_bytes(req.extension_data) if req else None
    ext_types = {e.extension_type for e in extensions} | set(
        required.extension_types if required else ())
    return make_capabilities(
        suite_id, credentials=(credential.credential_type,),
        extensions=sorted(t for t in ext_types if t not in DEFAULT_EXTENSION_TYPES),
        proposals=sorted(t for t in (required.proposal_types if required else ())
                         if t not in DEFAULT_PROPOSAL_TYPES),
    )


def group_leaf_extensions(extensions: tuple[Extension, ...]) -> tuple[Extension, ...]:
    """Leaf extensions for a leaf of a group with the GroupContext ``extensions``, made
    by the engine itself (like ``group_capabilities``): an app_data_dictionary whose
    ``app_components`` and ``safe_aad`` list what the group requires (draft-ietf-mls-
    extensions 5), ``app_components`` listing itself too (4.6: a client supporting the
    dictionary advertises it); none when the group requires no component."""
    components, safe_aad = required_components(extensions)
    if not components and not safe_aad:
        return ()
    supported = sorted({ComponentId.APP_COMPONENTS, *components})
    data = AppDataDictionary().with_data(ComponentId.APP_COMPONENTS,
                                         ComponentsList(tuple(supported)).to_bytes())
    if safe_aad:
        data = data.with_data(ComponentId.SAFE_AAD, ComponentsList(tuple(safe_aad)).to_bytes())
    return (Extension(ExtensionType.APP_DATA_DICTIONARY, data.to_bytes()),)


def create_group(
    suite: CipherSuite,
    group_id: bytes,
    credential: Credential,
    signature_priv: bytes,
    now: int,
    *,
    extensions: tuple[Extension, ...] = (),
    key_package: KeyPackagePrivate | None = None,
    external_psks: Mapping[bytes, bytes] | None = None,
    config: GroupConfig | None = None,
) -> GroupState:
    """A group whose only member is the creator, at epoch 0 (11).

    ``key_package`` supplies the creator's leaf (and its private key);
    without one a fresh leaf is made from ``credential`` with the capabilities
    ``group_capabilities`` and the leaf extensions ``group_leaf_extensions`` give for
    ``extensions``.
    """
    if key_package is None:
        key_package = create_key_package(suite, credential, signature_priv, now,
                                         capabilities=group_capabilities(suite.id, credential,
                                                                         extensions),
                                         leaf_extensions=group_leaf_extensions(extensions))
    leaf = key_package.key_package.leaf_node
    # The creator's leaf is ours: it lists the group's suite (docs/INTEROP.md).
    check_own_capabilities(leaf.capabilities, suite.id, leaf.credential.credential_type)
    nodes: list[object] = [leaf]
    tree = Tree(suite, nodes)  # type: ignore[arg-type]
    check_context_extensions(tree, GroupContext(1, suite.id, group_id, 0, b"", b"", ()),
                              GroupContextExtensions(extensions))
    if not group_id:
        raise ValidationError("a group id must not be empty", "RFC 9420 11")
    context = GroupContext(
        ProtocolVersion.MLS10, suite.id, group_id, 0, tree.tree_hash(), b"", extensions
    )
    # 11: a fresh random epoch secret; deriving it from a random init_secret
    # with an all-zero commit secret gives one.
    secrets = derive_epoch(suite, os.urandom(suite.kdf_len), bytes(suite.kdf_len), None,
                           context.to_bytes())
    tag = confirmation_tag(suite, secrets.confirmation_key, b"")
    return fresh_state(context, tree, 0, signature_priv, PathKeys({0: key_package.encryption_priv}),
                       secrets, tag, config or GroupConfig(), external_psks)

