"""Non-members: joining by external commit (RFC 9420 12.4.3.2) and external
proposals from pre-provisioned senders or would-be members (12.1.8)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from accord.errors import ValidationError
from accord.mls.framing import protect_public, sign_content, with_confirmation_tag
from accord.mls.framing_public import public_message_from
from accord.mls.group.commit import derive_next
from accord.mls.group.create import group_capabilities, group_leaf_extensions
from accord.mls.group.epoch import NextEpoch, fresh_state, resolve_psks
from accord.mls.group.keys import KeyPackagePrivate, create_key_package
from accord.mls.group.process import free_leaf
from accord.mls.group.proposals import apply_proposals, check_external_list
from accord.mls.group.public import PublicGroup, check_proposal_message
from accord.mls.group.state import CachedProposal, GroupConfig, GroupState
from accord.mls.group.welcome import joined_tree, probe_state
from accord.mls.key_schedule import EpochSecrets, external_init_send
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    Add,
    Commit,
    Credential,
    ExternalInit,
    ExternalPub,
    FramedContent,
    GroupContext,
    GroupInfo,
    LeafNode,
    MLSMessage,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    RatchetTree,
    Remove,
    SelfRemove,
    Sender,
    find_extension,
)
from accord.mls.structs.enums import (
    ExtensionType,
    LeafNodeSource,
    ProtocolVersion,
    SenderType,
    WireFormat,
)
from accord.mls.suites import get_suite
from accord.mls.transcript import interim_transcript_hash
from accord.mls.treekem import create_update_path

__all__ = ["external_proposal", "join_external", "new_member_add_proposal"]

RULE = "RFC 9420 12.4.3.2"


def join_external(
    group_info: MLSMessage | GroupInfo,
    credential: Credential,
    signature_priv: bytes,
    now: int,
    *,
    ratchet_tree: RatchetTree | bytes | None = None,
    remove_leaf: int | None = None,
    psks: Mapping[bytes, bytes] | None = None,
    self_removes: Sequence[MLSMessage | bytes] = (),
    authenticated_data: bytes = b"",
    config: GroupConfig | None = None,
) -> tuple[MLSMessage, GroupState]:
    """Join the group of ``group_info`` with an external commit (12.4.3.2).

    ``remove_leaf`` is our own old leaf for a resync (same credential, 12.2);
    ``psks`` (id -> secret) are external PSKs to inject, each with a
    PreSharedKey proposal; ``self_removes`` are the group's pending SelfRemove
    proposals (fetched with the GroupInfo), each checked as the delivery service
    checks it (no membership tag) and committed by reference
    (draft-ietf-mls-extensions 5.3). Returns the commit to send and our state in the
    new epoch (the join is complete once the commit is accepted; if it is
    not, join again from a newer GroupInfo).
    """
    if isinstance(group_info, MLSMessage) and group_info.version != ProtocolVersion.MLS10:
        raise ValidationError("protocol version is not mls10", "RFC 9420 6")
    info = group_info.message if isinstance(group_info, MLSMessage) else group_info
    if not isinstance(info, GroupInfo):
        raise ValidationError("not a GroupInfo", RULE)
    ctx = info.group_context
    suite = get_suite(ctx.cipher_suite)
    cfg = config or GroupConfig()
    tree = joined_tree(suite, info, ratchet_tree, now, cfg)
    ext = find_extension(info.extensions, ExtensionType.EXTERNAL_PUB)
    if ext is None:
        raise ValidationError("the GroupInfo has no external_pub", RULE)
    signer = tree.leaf(info.signer)
    assert signer is not None  # check_signer found it
    external_pub = _external_pub(ext.extension_data, len(signer.encryption_key))
    kem_output, init_secret = external_init_send(suite, external_pub)
    proposals: list[Proposal] = [ExternalInit(kem_output)]
    if remove_leaf is not None:
        proposals.append(Remove(remove_leaf))
    nonce_len = suite.kdf_len
    proposals += [PreSharedKey(PreSharedKeyID.external(i, os.urandom(nonce_len)))
                  for i in (psks or {})]
    base = _joiner_state(info, tree, signature_priv, psks, cfg)
    leaving = _self_removes(info, tree, self_removes, now)
    template = _template_leaf(ctx, credential, signature_priv, now)
    return _external_commit(dataclasses.replace(base, proposals=leaving), proposals, template,
                            init_secret, authenticated_data)


def _self_removes(
    info: GroupInfo, tree: Tree, messages: Sequence[MLSMessage | bytes], now: int
) -> tuple[CachedProposal, ...]:
    """Pending SelfRemove proposals of the GroupInfo's epoch, checked (5.3)."""
    group = PublicGroup(info.group_context, tree, b"")
    out: list[CachedProposal] = []
    for m in messages:
        raw = m if isinstance(m, bytes) else m.to_bytes()
        cached = check_proposal_message(dataclasses.replace(group, proposals=tuple(out)), raw,
                                        now)
        if not isinstance(cached.proposal, SelfRemove):
            raise ValidationError("an external commit refers to SelfRemoves only", RULE)
        out.append(cached)
    return tuple(out)


def _external_commit(
    base: GroupState, proposals: list[Proposal], template: LeafNode, init_secret: bytes,
    authenticated_data: bytes,
) -> tuple[MLSMessage, GroupState]:
    """Build, sign and apply our external commit (12.4.1 with 12.4.3.2's rules), with
    the state's cached proposals (SelfRemoves) by reference."""
    ctx, suite = base.context, base.suite
    me = Sender(SenderType.NEW_MEMBER_COMMIT, None)
    entries = [(p, me) for p in proposals] + [(c.proposal, c.sender) for c in base.proposals]
    items: list[Proposal | bytes] = [*proposals, *(c.ref for c in base.proposals)]
    check_external_list(base.tree, entries)
    applied = apply_proposals(base.tree, ctx, entries, base.config.components,
                              base.config.members_rule, template)
    tree = applied.tree
    leaf = free_leaf(tree)  # 12.4.1: the leftmost blank leaf, or a new one
    tree.set_node(2 * leaf, template)
    provisional = dataclasses.replace(ctx, epoch=ctx.epoch + 1, tree_hash=b"")
    created = create_update_path(tree, leaf, base.signature_priv, provisional, leaf=template)
    content = FramedContent(ctx.group_id, ctx.epoch, me, authenticated_data,
                            Commit(tuple(items), created.update_path))
    auth = sign_content(suite, WireFormat.PUBLIC_MESSAGE, content, base.signature_priv, ctx)
    psk_secret = resolve_psks(base, applied.psks)
    nxt: NextEpoch = derive_next(base, auth, tree, tuple(applied.extensions),
                                  created.commit_secret, psk_secret, created.keys, init_secret,
                                  own_leaf=leaf)
    auth = with_confirmation_tag(auth, nxt.confirmation_tag)
    msg = MLSMessage.wrap(public_message_from(suite, auth, ctx, None))
    state = fresh_state(nxt.context, tree, leaf, base.signature_priv, nxt.keys, nxt.secrets,
                        nxt.confirmation_tag, base.config, base.external_psks)
    return msg, state


def _external_pub(data: bytes, key_len: int) -> bytes:
    """The key of an external_pub extension (12.4.3.2: ``struct { HPKEPublicKey
    external_pub; }``, so a length-prefixed key). ts-mls 1.6.4 writes the bare
    key instead; it is accepted too, told apart by its length (a prefixed key
    is never exactly as long as a key of the suite). Accord writes the RFC form."""
    if len(data) == key_len:
        return data
    pub: bytes = ExternalPub.from_bytes(data).external_pub
    return pub


def _joiner_state(
    info: GroupInfo, tree: Tree, signature_priv: bytes,
    external_psks: Mapping[bytes, bytes] | None, cfg: GroupConfig,
) -> GroupState:
    """A state for the epoch of ``info`` as far as a non-member knows it: enough
    to run the shared commit derivation (its init_secret is never used)."""
    suite = get_suite(info.group_context.cipher_suite)
    probe = probe_state(suite, external_psks, cfg)
    ctx = info.group_context
    zero = bytes(suite.kdf_len)
    secrets = EpochSecrets(suite.id, *([zero] * 11))
    return dataclasses.replace(
        probe, context=ctx, tree=tree, signature_priv=signature_priv, secrets=secrets,
        interim_transcript_hash=interim_transcript_hash(
            suite, ctx.confirmed_transcript_hash, info.confirmation_tag),
        confirmation_tag=info.confirmation_tag,
    )


def _template_leaf(ctx: GroupContext, credential: Credential, signature_priv: bytes,
                   now: int) -> LeafNode:
    # The signature key of a fresh KeyPackage leaf with the capabilities the group
    # asks for (``group_capabilities``); TreeKEM replaces its keys, source and
    # parent hash and signs it (7.5).
    suite = get_suite(ctx.cipher_suite)
    caps = group_capabilities(suite.id, credential, tuple(ctx.extensions))
    kp: KeyPackagePrivate = create_key_package(
        suite, credential, signature_priv, now, capabilities=caps,
        leaf_extensions=group_leaf_extensions(tuple(ctx.extensions)))
    return dataclasses.replace(kp.key_package.leaf_node, leaf_node_source=LeafNodeSource.COMMIT,
                               lifetime=None, parent_hash=b"")


def external_proposal(
    context: GroupContext, proposal: Proposal, sender_index: int, signature_priv: bytes,
    authenticated_data: bytes = b"",
) -> MLSMessage:
    """A proposal from the external sender at ``sender_index`` of the group's
    external_senders extension (12.1.8), as a PublicMessage."""
    content = FramedContent(context.group_id, context.epoch,
                            Sender(SenderType.EXTERNAL, sender_index), authenticated_data, proposal)
    suite = get_suite(context.cipher_suite)
    return MLSMessage.wrap(protect_public(suite, content, signature_priv, None, None))


def new_member_add_proposal(
    context: GroupContext, key_package: KeyPackagePrivate, authenticated_data: bytes = b""
) -> MLSMessage:
    """A would-be member proposes its own Add (12.1.8, sender new_member_proposal)."""
    content = FramedContent(context.group_id, context.epoch,
                            Sender(SenderType.NEW_MEMBER_PROPOSAL, None), authenticated_data,
                            Add(key_package.key_package))
    suite = get_suite(context.cipher_suite)
    return MLSMessage.wrap(protect_public(suite, content, key_package.signature_priv, None, None))
