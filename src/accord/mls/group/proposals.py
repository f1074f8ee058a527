"""Proposals: one-by-one validity (12.1), list validity (12.2), application (12.3),
with the AppDataUpdate and SelfRemove proposals of draft-ietf-mls-extensions
(``app_proposals``).

Both the committer and every receiver run the same code here, so a commit
one side accepts the other accepts too. Each violation raises a
``ValidationError`` whose ``rule`` names the section and the point broken.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from accord.errors import ValidationError
from accord.mls.codec import decode
from accord.mls.components import Component, ComponentUpdate, MembersRule
from accord.mls.credentials import check_successor
from accord.mls.group.app_proposals import (
    apply_app_data,
    check_app_list,
    check_app_proposal,
    check_context_app_data,
)
from accord.mls.group.state import GroupView
from accord.mls.key_package import validate_key_package
from accord.mls.leaf_node import (
    GroupRules,
    check_capabilities,
    required_components,
    validate_leaf_node,
)
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    Add,
    AppDataUpdate,
    Credential,
    Extension,
    ExternalInit,
    ExternalSenders,
    GroupContext,
    GroupContextExtensions,
    KeyPackage,
    LeafNode,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    ReInit,
    Remove,
    RequiredCapabilities,
    SelfRemove,
    Sender,
    Update,
    find_extension,
)
from accord.mls.structs.app_data import AppDataDictionary
from accord.mls.structs.enums import (
    ExtensionType,
    LeafNodeSource,
    ProposalType,
    PSKType,
    ResumptionPSKUsage,
    SenderType,
)
from accord.mls.tree_validation import group_rules

__all__ = [
    "Applied",
    "PATH_REQUIRED",
    "apply_proposals",
    "check_external_list",
    "check_member_list",
    "check_proposal",
    "external_senders",
    "proposal_type",
]

R_VALIDATE = "RFC 9420 12.2"
# 12.4: proposal types whose commit must carry an UpdatePath.
PATH_REQUIRED = frozenset(
    (ProposalType.UPDATE, ProposalType.REMOVE, ProposalType.EXTERNAL_INIT,
     ProposalType.GROUP_CONTEXT_EXTENSIONS, ProposalType.SELF_REMOVE)
)
# 12.1.8: what an `external` sender may propose (and AppDataUpdate, "External: Y"
# in draft-ietf-mls-extensions).
EXTERNAL_SENDER_TYPES = frozenset(
    (ProposalType.ADD, ProposalType.REMOVE, ProposalType.PSK, ProposalType.REINIT,
     ProposalType.GROUP_CONTEXT_EXTENSIONS, ProposalType.APP_DATA_UPDATE)
)

_TYPE_OF: dict[type, int] = {
    Add: ProposalType.ADD,
    Update: ProposalType.UPDATE,
    Remove: ProposalType.REMOVE,
    PreSharedKey: ProposalType.PSK,
    ReInit: ProposalType.REINIT,
    ExternalInit: ProposalType.EXTERNAL_INIT,
    GroupContextExtensions: ProposalType.GROUP_CONTEXT_EXTENSIONS,
    AppDataUpdate: ProposalType.APP_DATA_UPDATE,
    SelfRemove: ProposalType.SELF_REMOVE,
}


def proposal_type(p: Proposal) -> int:
    return _TYPE_OF[type(p)]


def credential_types(tree: Tree) -> frozenset[int]:
    return frozenset(n.credential.credential_type for _, n in tree.leaves())


def rules_for(state: GroupView, context: GroupContext | None = None) -> GroupRules:
    """What the group asks of a leaf (7.3), with the state's cached credential types."""
    base = group_rules(context or state.context)
    types = state.credential_types
    if types is None:
        types = credential_types(state.tree)
    return dataclasses.replace(base, credential_types=types)


def external_senders(context: GroupContext) -> ExternalSenders:
    ext = find_extension(context.extensions, ExtensionType.EXTERNAL_SENDERS)
    if ext is None:
        return ()
    senders: ExternalSenders = decode(ExternalSenders, ext.extension_data)
    return senders


def proposer_credential(tree: Tree, context: GroupContext, sender: Sender) -> Credential | None:
    """The credential of a proposal's sender: a member's leaf, an external sender's
    entry; None for a new member (its leaf is not in ``tree``)."""
    if sender.index is None:
        return None
    if sender.sender_type == SenderType.MEMBER:
        leaf = tree.leaf(sender.index)
        return None if leaf is None else leaf.credential
    if sender.sender_type == SenderType.EXTERNAL:
        senders = external_senders(context)
        return senders[sender.index].credential if sender.index < len(senders) else None
    return None


# --------------------------------------------------------------------------
# One proposal (12.1)


def check_proposal(
    state: GroupView, p: Proposal, sender: Sender, now: int | None,
    rules: GroupRules | None = None,
) -> None:
    """Validity of one proposal on its own, as 12.1.1-12.1.8 define it.

    ``rules`` (what the group asks of a leaf) may be passed in when many
    proposals are checked at once: computing them looks at every member.
    """
    st = sender.sender_type
    t = proposal_type(p)
    if st == SenderType.EXTERNAL and t not in EXTERNAL_SENDER_TYPES:
        raise ValidationError(f"an external sender may not propose type {t}", "RFC 9420 12.1.8")
    if st == SenderType.NEW_MEMBER_PROPOSAL and t != ProposalType.ADD:
        raise ValidationError("a new_member_proposal sender may only propose Add", "RFC 9420 12.1.8")
    if rules is None and isinstance(p, Add | Update):
        rules = rules_for(state)
    if isinstance(p, Add):
        assert rules is not None
        validate_key_package(p.key_package, now=now, rules=rules,
                             credential_validator=state.config.credential_validator)
    elif isinstance(p, Update):
        assert rules is not None
        _check_update(state, p, sender, now, rules)
    elif isinstance(p, Remove):
        if state.tree.leaf(p.removed) is None:
            raise ValidationError(f"Remove of blank leaf {p.removed}", "RFC 9420 12.1.3")
    elif isinstance(p, PreSharedKey):
        _check_psk_id(state, p.psk)
    elif isinstance(p, ReInit):
        if p.version < state.context.version:
            raise ValidationError("ReInit to an older protocol version", "RFC 9420 12.1.5")
    elif isinstance(p, GroupContextExtensions):
        check_context_extensions(state.tree, state.context, p)
        check_context_app_data(state.context, p.extensions)
    elif isinstance(p, AppDataUpdate):
        check_app_proposal(state.config.components, p, state.context, ComponentUpdate(
            p.update or b"", sender, proposer_credential(state.tree, state.context, sender)))


def _check_update(
    state: GroupView, p: Update, sender: Sender, now: int | None, rules: GroupRules
) -> None:
    if sender.sender_type != SenderType.MEMBER or sender.index is None:
        raise ValidationError("only a member sends an Update", "RFC 9420 12.1.2")
    leaf = sender.index
    old = state.tree.leaf(leaf)
    if old is None:
        raise ValidationError("Update from a blank leaf", "RFC 9420 12.1.2")
    validate_leaf_node(
        state.suite, p.leaf_node, source=LeafNodeSource.UPDATE, group_id=state.group_id,
        leaf_index=leaf, rules=rules, now=now,
        credential_validator=state.config.credential_validator,
    )
    # 5.3.1: a replaced credential must present the same identity.
    check_successor(old.credential, p.leaf_node.credential)
    if p.leaf_node.encryption_key == old.encryption_key:
        raise ValidationError("Update keeps the old encryption key", "RFC 9420 12.1.2")
    _check_unique_keys(state.tree, p.leaf_node.encryption_key, p.leaf_node.signature_key, leaf)


def _check_unique_keys(tree: Tree, enc: bytes, sig: bytes, leaf: int | None) -> None:
    # RFC 9420 7.3: encryption keys unique among all nodes, signature keys among leaves.
    at = tree.find_encryption_key(enc)
    if at is not None and (leaf is None or at != 2 * leaf):
        raise ValidationError("encryption key already in the tree", "RFC 9420 7.3")
    who = tree.find_signature_key(sig)
    if who is not None and who != leaf:
        raise ValidationError("signature key of another member", "RFC 9420 7.3")


def _check_psk_id(state: GroupView, psk: PreSharedKeyID) -> None:
    if len(psk.psk_nonce) != state.suite.kdf_len:
        raise ValidationError("psk_nonce is not KDF.Nh bytes", "RFC 9420 8.4")
    if psk.psktype == PSKType.RESUMPTION and psk.usage != ResumptionPSKUsage.APPLICATION:
        raise ValidationError("a PreSharedKey proposal's resumption usage must be application",
                              "RFC 9420 12.1.4")
    if psk.psktype not in (PSKType.EXTERNAL, PSKType.RESUMPTION):
        raise ValidationError("unknown psktype", "RFC 9420 8.4")


def check_context_extensions(tree: Tree, context: GroupContext, p: GroupContextExtensions) -> None:
    # 12.1.7: every member must support every new extension and the new
    # required_capabilities; checking all leaves is what the RFC asks.
    types = [e.extension_type for e in p.extensions]
    if len(set(types)) != len(types):
        raise ValidationError("an extension type appears twice", "RFC 9420 13.4")
    ext = find_extension(p.extensions, ExtensionType.REQUIRED_CAPABILITIES)
    required = decode(RequiredCapabilities, ext.extension_data) if ext else None
    senders = find_extension(p.extensions, ExtensionType.EXTERNAL_SENDERS)
    if senders is not None:
        decode(ExternalSenders, senders.extension_data)  # 12.1.8.1: must be well formed
    components, safe_aad = required_components(p.extensions)
    rules = GroupRules(cipher_suite=context.cipher_suite, version=context.version,
                       required=required, context_extensions=tuple(types),
                       components=components, safe_aad=safe_aad)
    for leaf_index, leaf in tree.leaves():
        check_capabilities(leaf, rules, f"leaf {leaf_index}")


# --------------------------------------------------------------------------
# The list (12.2)


Entry = tuple[Proposal, Sender]


def check_member_list(tree: Tree, entries: Sequence[Entry], committer: int) -> None:
    """The rules of 12.2 for a regular (member) commit; a SelfRemove counts as a Remove
    of its sender's leaf (draft-ietf-mls-extensions 5.3)."""
    touched: set[int] = set()
    removed: set[int] = set()
    add_keys: set[bytes] = set()
    psk_ids: set[bytes] = set()
    gce = 0
    for p, sender in entries:
        if isinstance(p, Update):
            if sender.index == committer:
                raise ValidationError("the committer's own Update is committed", R_VALIDATE)
            _touch(touched, sender.index)
        elif isinstance(p, Remove):
            if p.removed == committer:
                raise ValidationError("a Remove of the committer", R_VALIDATE)
            _touch(touched, p.removed)
            removed.add(p.removed)
        elif isinstance(p, SelfRemove):
            if sender.index == committer:
                raise ValidationError("the committer's own SelfRemove is committed",
                                      "draft-ietf-mls-extensions 5.3")
            _touch(touched, sender.index)
            removed.add(sender.index or 0)
        elif isinstance(p, PreSharedKey):
            key = p.psk.to_bytes()
            if key in psk_ids:
                raise ValidationError("two PreSharedKey proposals for one PSK", R_VALIDATE)
            psk_ids.add(key)
        elif isinstance(p, GroupContextExtensions):
            gce += 1
        elif isinstance(p, ReInit) and len(entries) > 1:
            raise ValidationError("a ReInit together with other proposals", R_VALIDATE)
        elif isinstance(p, ExternalInit):
            raise ValidationError("an ExternalInit in a member commit", R_VALIDATE)
    if gce > 1:
        raise ValidationError("more than one GroupContextExtensions", R_VALIDATE)
    for p, _ in entries:
        if isinstance(p, Add):
            _check_add_identity(tree, p.key_package, add_keys, removed)
    check_app_list(tree, entries, removed)


def _touch(touched: set[int], leaf: int | None) -> None:
    if leaf is None or leaf in touched:
        raise ValidationError("two Update/Remove proposals for one leaf", R_VALIDATE)
    touched.add(leaf)


def _check_add_identity(
    tree: Tree, kp: KeyPackage, add_keys: set[bytes], removed: set[int]
) -> None:
    # Accord identifies a client by its signature key (12.2's example).
    sig = kp.leaf_node.signature_key
    if sig in add_keys:
        raise ValidationError("two Adds for the same client", R_VALIDATE)
    add_keys.add(sig)
    member = tree.find_signature_key(sig)
    if member is not None and member not in removed:
        raise ValidationError("an Add of a client already in the group", R_VALIDATE)
    enc = tree.find_encryption_key(kp.leaf_node.encryption_key)
    if enc is not None and (enc & 1 or enc >> 1 not in removed):
        raise ValidationError("an Add whose encryption key is in the tree", "RFC 9420 7.3")


def check_adds_under_new_extensions(context: GroupContext, applied: Applied) -> None:
    """12.3: new GroupContext extensions already apply to the Adds of the same commit."""
    if tuple(applied.extensions) == tuple(context.extensions) or not applied.added:
        return
    rules = group_rules(dataclasses.replace(context, extensions=applied.extensions), applied.tree)
    for leaf_index, kp in applied.added:
        check_capabilities(kp.leaf_node, rules, f"leaf {leaf_index}")


def check_external_list(tree: Tree, entries: Sequence[Entry]) -> None:
    """The rules of 12.2 for an external commit, which may also carry SelfRemoves (by
    reference) and AppDataUpdates (draft-ietf-mls-extensions 4.7, 5.3)."""
    inits = removes = 0
    touched: set[int] = set()
    for p, sender in entries:
        if isinstance(p, ExternalInit):
            inits += 1
        elif isinstance(p, Remove):
            removes += 1
            _touch(touched, p.removed)
        elif isinstance(p, SelfRemove):
            _touch(touched, sender.index)
        elif not isinstance(p, PreSharedKey | AppDataUpdate):
            raise ValidationError(f"an external commit with a {type(p).__name__}", R_VALIDATE)
    if inits != 1:
        raise ValidationError("an external commit needs exactly one ExternalInit", R_VALIDATE)
    if removes > 1:
        raise ValidationError("an external commit with more than one Remove", R_VALIDATE)
    psks = [p.psk.to_bytes() for p, _ in entries if isinstance(p, PreSharedKey)]
    if len(set(psks)) != len(psks):
        raise ValidationError("two PreSharedKey proposals for one PSK", R_VALIDATE)
    check_app_list(tree, entries, touched)


# --------------------------------------------------------------------------
# Applying (12.3)


@dataclasses.dataclass(slots=True)
class Applied:
    tree: Tree
    extensions: tuple[Extension, ...]
    added: list[tuple[int, KeyPackage]]
    updated: dict[int, Update]
    removed: list[int]
    psks: list[PreSharedKeyID]
    external_init: ExternalInit | None
    reinit: ReInit | None
    path_required: bool


def apply_proposals(
    tree: Tree, context: GroupContext, entries: Sequence[Entry],
    components: Mapping[int, Component] | None = None,
    members_rule: MembersRule | None = None, joiner: LeafNode | None = None,
) -> Applied:
    """Apply ``entries`` to a copy of ``tree`` in the order 12.3 prescribes: Updates,
    SelfRemoves (draft-ietf-mls-extensions 5.3), Removes, Adds, then AppDataUpdates
    (4.7) through the application's ``components``; then the application's
    ``members_rule`` sees the new dictionary and members (with an external commit's
    ``joiner``, whose leaf the UpdatePath brings)."""
    old_tree = tree
    tree = tree.copy()
    out = Applied(tree, tuple(context.extensions), [], {}, [], [], None, None, not entries)
    for p, _ in entries:
        if proposal_type(p) in PATH_REQUIRED:
            out.path_required = True
        if isinstance(p, GroupContextExtensions):
            out.extensions = tuple(p.extensions)
    for p, sender in entries:
        if isinstance(p, Update) and sender.index is not None:
            tree.update_leaf(sender.index, p.leaf_node)
            out.updated[sender.index] = p
    for p, sender in entries:
        if isinstance(p, SelfRemove) and sender.index is not None:
            if tree.leaf(sender.index) is None:
                raise ValidationError(f"SelfRemove of blank leaf {sender.index}",
                                      "draft-ietf-mls-extensions 5.3")
            tree.remove_leaf(sender.index)
            out.removed.append(sender.index)
    for p, _ in entries:
        if isinstance(p, Remove):
            if tree.leaf(p.removed) is None:
                raise ValidationError(f"Remove of blank leaf {p.removed}", "RFC 9420 12.1.3")
            tree.remove_leaf(p.removed)
            out.removed.append(p.removed)
    for p, _ in entries:
        if isinstance(p, Add):
            out.added.append((tree.add_leaf(p.key_package.leaf_node), p.key_package))
        elif isinstance(p, PreSharedKey):
            out.psks.append(p.psk)
        elif isinstance(p, ExternalInit):
            out.external_init = p
        elif isinstance(p, ReInit):
            out.reinit = p
    out.extensions = apply_app_data(
        out.extensions, context, tree, entries, components or {},
        lambda sender: proposer_credential(old_tree, context, sender))
    if members_rule is not None:
        ext = find_extension(out.extensions, ExtensionType.APP_DATA_DICTIONARY)
        dictionary = (AppDataDictionary() if ext is None
                      else decode(AppDataDictionary, ext.extension_data))
        members = [leaf.credential for _, leaf in tree.leaves()]
        members_rule(dictionary, members + ([] if joiner is None else [joiner.credential]))
    return out
