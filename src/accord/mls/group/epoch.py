"""What creating and processing a commit share: entering the next epoch (8, 12.4),
resolving PSKs (8.4, 8.6), finding a sender's key (6.1) and GroupInfo (12.4.3)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence

from accord.errors import ValidationError
from accord.mls.codec import encode
from accord.mls.group.proposals import Applied, credential_types, external_senders
from accord.mls.group.state import GroupConfig, GroupState, GroupView, PriorEpoch
from accord.mls.group.welcome_crypto import sign_group_info
from accord.mls.key_schedule import EpochSecrets
from accord.mls.leaf_node import grease_values
from accord.mls.psk import psk_secret
from accord.mls.ratchet_tree import Tree
from accord.mls.secret_tree import SecretTree
from accord.mls.structs import (
    Add,
    Commit,
    Extension,
    ExternalPub,
    FramedContent,
    GroupContext,
    GroupInfo,
    LeafNode,
    PreSharedKeyID,
    RatchetTree,
    ReInit,
)
from accord.mls.structs.enums import ExtensionType, PSKType, SenderType
from accord.mls.suites import CipherSuite, get_suite
from accord.mls.transcript import interim_transcript_hash
from accord.mls.treekem import PathKeys

__all__ = [
    "changed_leaves",
    "enter_epoch",
    "fresh_state",
    "make_group_info",
    "resolve_psks",
    "signature_key_lookup",
]


def resolve_psks(
    state: GroupState, ids: Sequence[PreSharedKeyID], others: Sequence[GroupState] = ()
) -> bytes | None:
    """psk_secret of ``ids`` in order (8.4), None when there are none.

    External PSKs come from the state's store; resumption PSKs from this
    group's kept epochs or from ``others`` (the old group of a branch or
    reinit, 8.6). A missing PSK is an error (12.4.2: all must be available).
    """
    if not ids:
        return None
    pairs = [(i, _lookup_psk(state, i, others)) for i in ids]
    return psk_secret(state.suite, pairs)


def _lookup_psk(state: GroupState, psk: PreSharedKeyID, others: Sequence[GroupState]) -> bytes:
    if psk.psktype == PSKType.EXTERNAL:
        assert psk.psk_id is not None
        value = state.external_psks.get(psk.psk_id)
        if value is None:
            raise ValidationError("an external PSK is not available", "RFC 9420 12.4.2")
        return value
    for s in (state, *others):
        if s.group_id == psk.psk_group_id:
            for epoch, value in s.resumption_psks:
                if epoch == psk.psk_epoch:
                    return value
    raise ValidationError("a resumption PSK is not available", "RFC 9420 12.4.2")


def signature_key_lookup(state: GroupView, tree: Tree | None = None):  # type: ignore[no-untyped-def]
    """A function from FramedContent to the sender's signature key (6.1)."""
    tree = tree if tree is not None else state.tree

    def lookup(content: FramedContent) -> bytes:
        sender = content.sender
        st = sender.sender_type
        if st == SenderType.MEMBER:
            leaf = tree.leaf(sender.index or 0) if sender.index is not None else None
            if leaf is None:
                raise ValidationError("the sender's leaf is blank", "RFC 9420 6.1")
            return leaf.signature_key
        if st == SenderType.EXTERNAL:
            senders = external_senders(state.context)
            if sender.index is None or sender.index >= len(senders):
                raise ValidationError("unknown external sender index", "RFC 9420 12.1.8.1")
            return senders[sender.index].signature_key
        body = content.content
        if st == SenderType.NEW_MEMBER_PROPOSAL and isinstance(body, Add):
            return body.key_package.leaf_node.signature_key
        if st == SenderType.NEW_MEMBER_COMMIT and isinstance(body, Commit) and body.path:
            return body.path.leaf_node.signature_key
        raise ValidationError("no signature key for this sender and content", "RFC 9420 6.1")

    return lookup


@dataclasses.dataclass(frozen=True, slots=True)
class NextEpoch:
    """Everything that differs in the state after a commit."""

    context: GroupContext
    tree: Tree
    own_leaf: int
    keys: PathKeys
    secrets: EpochSecrets
    interim_transcript_hash: bytes
    confirmation_tag: bytes
    reinit: ReInit | None = None
    # The members' credential types when known to be unchanged (else recomputed).
    credential_types: frozenset[int] | None = None


def enter_epoch(
    state: GroupState, nxt: NextEpoch, changed: Iterable[int],
    old_secret_tree: SecretTree | None = None,
) -> GroupState:
    """The state of the next epoch: fresh secret tree, old epoch kept for late
    application messages (15.3), resumption PSK recorded (8.6). ``changed``
    holds every leaf index the commit added, removed or replaced."""
    cfg = state.config
    suite = state.suite
    secret_tree = SecretTree.create(
        suite, nxt.secrets.encryption_secret, nxt.tree.n_leaves,
        max_forward_distance=cfg.max_forward_distance, max_skipped_keys=cfg.max_skipped_keys,
    )
    old = PriorEpoch(
        state.context, state.secrets.sender_data_secret,
        old_secret_tree if old_secret_tree is not None else state.secret_tree,
        {i: _key(state.tree, i) for i in changed},
    )
    prior = ((old,) + state.prior)[: cfg.max_past_epochs] if cfg.max_past_epochs else ()
    psks = ((nxt.context.epoch, nxt.secrets.resumption_psk),) + state.resumption_psks
    return dataclasses.replace(
        state,
        context=nxt.context,
        tree=nxt.tree,
        own_leaf=nxt.own_leaf,
        node_privs=nxt.keys,
        secrets=nxt.secrets,
        secret_tree=secret_tree,
        interim_transcript_hash=nxt.interim_transcript_hash,
        confirmation_tag=nxt.confirmation_tag,
        proposals=(),
        pending=None,
        prior=prior,
        resumption_psks=psks[: cfg.max_resumption_psks],
        reinit=nxt.reinit,
        credential_types=(
            nxt.credential_types if nxt.credential_types is not None
            else credential_types(nxt.tree)
        ),
    )


def _key(tree: Tree, leaf: int) -> bytes | None:
    node = tree.leaf(leaf)
    return None if node is None else node.signature_key


def changed_leaves(applied: Applied, sender: int | None) -> set[int]:
    """Leaves a commit touches: its proposals' and the committer's (12.3, 7.5)."""
    out = {leaf for leaf, _ in applied.added} | set(applied.removed) | set(applied.updated)
    if sender is not None:
        out.add(sender)
    return out


def kept_credential_types(
    state: GroupState, applied: Applied, sender: int | None, path_leaf: LeafNode | None
) -> frozenset[int] | None:
    """The cached credential types if this commit cannot have changed them."""
    if applied.added or applied.removed or applied.updated or sender is None:
        return None
    old = state.tree.leaf(sender)
    if path_leaf is not None and (
        old is None or old.credential.credential_type != path_leaf.credential.credential_type
    ):
        return None
    return state.credential_types


def fresh_state(
    context: GroupContext, tree: Tree, own_leaf: int, signature_priv: bytes, keys: PathKeys,
    secrets: EpochSecrets, tag: bytes, config: GroupConfig,
    external_psks: Mapping[bytes, bytes] | None = None,
) -> GroupState:
    """The first state of a member: after creating (11) or joining (12.4.3) a group."""
    suite = get_suite(context.cipher_suite)
    return GroupState(
        context=context, tree=tree, own_leaf=own_leaf, signature_priv=signature_priv,
        node_privs=keys, secrets=secrets,
        secret_tree=SecretTree.create(
            suite, secrets.encryption_secret, tree.n_leaves,
            max_forward_distance=config.max_forward_distance,
            max_skipped_keys=config.max_skipped_keys,
        ),
        # 8.2: the interim hash follows from the confirmed hash and the tag.
        interim_transcript_hash=interim_transcript_hash(
            suite, context.confirmed_transcript_hash, tag),
        confirmation_tag=tag,
        resumption_psks=((context.epoch, secrets.resumption_psk),),
        external_psks=dict(external_psks or {}),
        credential_types=credential_types(tree),
        config=config,
    )


def make_group_info(
    state: GroupState, *, with_tree: bool = True, with_external_pub: bool = True,
    extra: Sequence[Extension] = (), bare_external_pub: bool = False,
) -> GroupInfo:
    """A signed GroupInfo of the state's epoch (12.4.3), optionally carrying the
    ratchet_tree (12.4.3.3) and external_pub (12.4.3.2) extensions.

    ``bare_external_pub`` writes the extension as the bare HPKE key instead of the
    ExternalPub struct of 12.4.3.2: not RFC 9420, but what ts-mls 1.6.4 reads (fixed
    upstream by ts-mls PR #449). Only ``accord interop serve --peer-quirk
    tsmls-external-pub`` asks for it; the messenger never does."""
    suite: CipherSuite = state.suite
    exts: list[Extension] = list(extra)
    if with_tree:
        tree_bytes = encode(RatchetTree, state.tree.to_ratchet_tree())
        exts.append(Extension(ExtensionType.RATCHET_TREE, tree_bytes))
    if with_external_pub:
        key = state.secrets.external_pub()
        pub = key if bare_external_pub else ExternalPub(key).to_bytes()
        exts.append(Extension(ExtensionType.EXTERNAL_PUB, pub))
    # 13.5: a random GREASE extension, so receivers keep ignoring unknown ones.
    exts.append(Extension(grease_values(1)[0], os.urandom(os.urandom(1)[0] % 8)))
    info = GroupInfo(state.context, tuple(exts), state.confirmation_tag, state.own_leaf, b"")
    return sign_group_info(suite, state.signature_priv, info)
