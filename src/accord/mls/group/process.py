"""Receiving: application messages, proposals and commits (RFC 9420 6, 12.1, 12.4.2, 15).

``process(state, message, now)`` returns what the message said and the next
state. Every failure raises an ``AccordError`` and leaves the given state as
it was: nothing is written until every check has passed.
"""

from __future__ import annotations

import dataclasses

from accord.errors import ValidationError
from accord.mls.codec import decode
from accord.mls.credentials import check_successor
from accord.mls.framing import unprotect_private, unprotect_public
from accord.mls.group.app_proposals import check_by_value, check_received_self_remove
from accord.mls.group.commit import derive_next, surviving_keys
from accord.mls.group.epoch import (
    NextEpoch,
    changed_leaves,
    enter_epoch,
    kept_credential_types,
    resolve_psks,
    signature_key_lookup,
)
from accord.mls.group.proposals import (
    Applied,
    apply_proposals,
    check_adds_under_new_extensions,
    check_external_list,
    check_member_list,
    check_proposal,
    rules_for,
)
from accord.mls.group.safe_aad import check_safe_aad
from accord.mls.group.state import CachedProposal, GroupState, GroupView
from accord.mls.key_schedule import external_init_receive
from accord.mls.leaf_node import validate_leaf_node
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    AuthenticatedContent,
    Commit,
    Extension,
    ExternalInit,
    FramedContent,
    GroupContext,
    LeafNode,
    MLSMessage,
    PreSharedKey,
    PrivateMessage,
    Proposal,
    PublicMessage,
    Remove,
    SelfRemove,
    Sender,
    Update,
)
from accord.mls.structs.enums import ContentType, LeafNodeSource, SenderType
from accord.mls.transcript import verify_confirmation_tag
from accord.mls.treekem import PathKeys, process_update_path

__all__ = [
    "CheckedCommit",
    "ProcessResult",
    "check_commit",
    "check_path_leaf",
    "committer_leaf",
    "process",
    "received_proposal",
]

R_COMMIT = "RFC 9420 12.4.2"


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessResult:
    """What one message carried."""

    content_type: int  # ContentType: application, proposal or commit
    sender: Sender
    epoch: int  # the epoch the message was sent in
    authenticated_data: bytes
    application_data: bytes | None = None
    proposal: Proposal | None = None
    proposal_ref: bytes | None = None
    proposals: tuple[Proposal, ...] = ()  # a commit's proposals, resolved
    removed_self: bool = False  # a commit removed us
    # A received commit's removed leaves: its Removes' and its SelfRemoves' senders'
    # (draft-ietf-mls-extensions 5.3), as they were in the epoch it was sent in.
    removed_leaves: tuple[int, ...] = ()


def process(
    state: GroupState, message: MLSMessage | bytes, now: int | None
) -> tuple[ProcessResult, GroupState]:
    """Process one PublicMessage or PrivateMessage addressed to this group.

    ``now`` (seconds) checks the lifetimes of KeyPackages that are added;
    None skips that check (test vectors).
    """
    raw = message if isinstance(message, bytes) else message.to_bytes()
    msg: MLSMessage = decode(MLSMessage, raw) if isinstance(message, bytes) else message
    inner = msg.message
    if msg.version != 1:
        raise ValidationError("protocol version is not mls10", "RFC 9420 6")
    if state.pending is not None and raw == state.pending.message:
        # Our own commit came back from the delivery service: it won (14).
        nxt = state.pending.next_state
        return _own_commit_result(state, nxt), nxt
    for c in state.proposals:
        if c.message == raw:  # our own proposal, back from the delivery service
            return ProcessResult(ContentType.PROPOSAL, c.sender, state.epoch, b"",
                                 proposal=c.proposal, proposal_ref=c.ref), state
    if isinstance(inner, PrivateMessage):
        if inner.epoch != state.epoch and inner.content_type == ContentType.APPLICATION:
            return _late_application(state, inner)
        auth, state2 = _open_private(state, inner)
    elif isinstance(inner, PublicMessage):
        auth = unprotect_public(
            state.suite, inner, signature_key_lookup(state), state.context,
            state.secrets.membership_key,
        )
        state2 = state
    else:
        raise ValidationError(f"wire format {msg.wire_format} is not a framed message", "RFC 9420 6")
    ct = auth.content.content_type
    if state.removed and ct != ContentType.APPLICATION:
        raise ValidationError("we were removed from this group", R_COMMIT)
    if ct == ContentType.APPLICATION:
        content = auth.content
        check_safe_aad(state.context, content.authenticated_data, "an application message")
        return ProcessResult(ct, content.sender, content.epoch, content.authenticated_data,
                             application_data=content.content), state2  # type: ignore[arg-type]
    if ct == ContentType.PROPOSAL:
        return _proposal(state2, auth, now)
    return _commit(state2, auth, now)


def _open_private(
    state: GroupState, msg: PrivateMessage
) -> tuple[AuthenticatedContent, GroupState]:
    tree = state.tree
    auth, st = unprotect_private(
        state.suite, state.secret_tree, state.secrets.sender_data_secret, msg,
        signature_key_lookup(state), state.context, lambda leaf: tree.leaf(leaf) is not None,
    )
    return auth, state.with_secret_tree(st)


def _late_application(
    state: GroupState, msg: PrivateMessage
) -> tuple[ProcessResult, GroupState]:
    """An application message of a kept earlier epoch (15.3)."""
    i = next((k for k, p in enumerate(state.prior) if p.context.epoch == msg.epoch), -1)
    if i < 0:
        raise ValidationError(
            f"the message is for epoch {msg.epoch}, the group is at {state.epoch}", R_COMMIT
        )
    prior = state.prior[i]
    epoch = prior.context.epoch

    def old_key(content: FramedContent) -> bytes:
        key = state.leaf_key_at(epoch, content.sender.index or 0)
        if key is None:
            raise ValidationError("the sender's leaf was blank in that epoch", "RFC 9420 6.1")
        return key

    auth, st = unprotect_private(
        state.suite, prior.secret_tree, prior.sender_data_secret, msg, old_key, prior.context,
        lambda leaf: state.leaf_key_at(epoch, leaf) is not None,
    )
    kept = dataclasses.replace(prior, secret_tree=st)
    prior_list = state.prior[:i] + (kept,) + state.prior[i + 1:]
    c = auth.content
    check_safe_aad(prior.context, c.authenticated_data, "an application message")
    result = ProcessResult(ContentType.APPLICATION, c.sender, c.epoch, c.authenticated_data,
                           application_data=c.content)  # type: ignore[arg-type]
    return result, dataclasses.replace(state, prior=prior_list)


def _proposal(
    state: GroupState, auth: AuthenticatedContent, now: int | None
) -> tuple[ProcessResult, GroupState]:
    content = auth.content
    cached = received_proposal(state, auth, now)
    if all(c.ref != cached.ref for c in state.proposals):
        # A proposal seen twice (e.g. our own, echoed back) is cached once,
        # keeping what we stored when we sent it (an Update's private key).
        state = dataclasses.replace(state, proposals=state.proposals + (cached,))
    result = ProcessResult(ContentType.PROPOSAL, content.sender, content.epoch,
                           content.authenticated_data, proposal=cached.proposal,
                           proposal_ref=cached.ref)
    return result, state


def received_proposal(
    state: GroupView, auth: AuthenticatedContent, now: int | None
) -> CachedProposal:
    """A received proposal, valid on its own (12.1), with its ProposalRef (5.2): what
    a member caches and a delivery service keeps for commits by reference."""
    content = auth.content
    p: Proposal = content.content  # type: ignore[assignment]
    check_proposal(state, p, content.sender, now)
    ref = state.suite.proposal_ref(auth.to_bytes())
    check_received_self_remove(p, content.sender, auth.wire_format, ref,
                               [(c.ref, c.proposal, c.sender) for c in state.proposals])
    return CachedProposal(ref, p, content.sender)


def _resolve(
    state: GroupView, commit: Commit, sender: Sender, now: int | None, first: bool = False
) -> tuple[list[tuple[Proposal, Sender]], dict[bytes, CachedProposal]]:
    """The proposals a commit covers, with their senders (12.4). ``first``: the first
    commit of a new group, which may carry the one PSK of usage reinit or branch that
    12.1.4 allows only there (11.2, 11.3; the joiners check it, 12.4.3.1)."""
    by_ref = {c.ref: c for c in state.proposals}
    used: dict[bytes, CachedProposal] = {}
    entries: list[tuple[Proposal, Sender]] = []
    rules = rules_for(state) if any(not isinstance(i, bytes) for i in commit.proposals) else None
    for item in commit.proposals:
        if isinstance(item, bytes):
            c = by_ref.get(item)
            if c is None:
                raise ValidationError("the commit refers to an unknown proposal", R_COMMIT)
            if sender.sender_type == SenderType.NEW_MEMBER_COMMIT and not isinstance(
                    c.proposal, SelfRemove):
                # draft-ietf-mls-extensions 5.3 lets an external commit refer to SelfRemoves.
                raise ValidationError("an external commit refers to proposals", "RFC 9420 12.4.3.2")
            used[item] = c
            entries.append((c.proposal, c.sender))
        else:
            check_by_value(item)
            if not isinstance(item, ExternalInit) and not (
                    first and isinstance(item, PreSharedKey)):
                check_proposal(state, item, sender, now, rules)
            entries.append((item, sender))
    return entries, used


def _commit(
    state: GroupState, auth: AuthenticatedContent, now: int | None
) -> tuple[ProcessResult, GroupState]:
    content = auth.content
    sender = content.sender
    commit: Commit = content.content  # type: ignore[assignment]
    if sender.sender_type == SenderType.MEMBER and sender.index == state.own_leaf:
        raise ValidationError("our own commit, but not the pending one", "RFC 9420 14")
    checked = check_commit(state, auth, now)
    applied = checked.applied
    removed_self = state.own_leaf in applied.removed
    result = ProcessResult(ContentType.COMMIT, sender, content.epoch, content.authenticated_data,
                           proposals=tuple(p for p, _ in checked.entries),
                           removed_self=removed_self, removed_leaves=tuple(applied.removed))
    if removed_self:
        # 12.4.2: a removed member cannot derive the new epoch; it keeps the
        # current one only to read late messages, and sends nothing more.
        return result, dataclasses.replace(state, removed=True, proposals=(), pending=None)
    nxt, committer = _next_from_commit(state, auth, commit, applied, checked.used,
                                       checked.external, now)
    changed = changed_leaves(applied, committer if commit.path is not None else None)
    return result, enter_epoch(state, nxt, changed)


@dataclasses.dataclass(frozen=True, slots=True)
class CheckedCommit:
    """A received commit's proposals, resolved and checked, and their effect."""

    entries: list[tuple[Proposal, Sender]]
    used: dict[bytes, CachedProposal]
    applied: Applied
    external: bool


def check_commit(state: GroupView, auth: AuthenticatedContent, now: int | None,
                 first: bool = False) -> CheckedCommit:
    """12.4.2 up to the UpdatePath, with public data only: the sender kind, each
    proposal resolved (12.4) and valid (12.1), the list valid (12.2), applied
    (12.3), and the path present where required. Every member runs it
    (``process``), and so does the hub on the group's public state (``public``),
    which alone sees a group's ``first`` commit (see ``_resolve``): the other
    members of a new group join it by Welcome."""
    sender = auth.content.sender
    commit: Commit = auth.content.content  # type: ignore[assignment]
    external = sender.sender_type == SenderType.NEW_MEMBER_COMMIT
    if sender.sender_type not in (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT):
        raise ValidationError("only members and new members commit", "RFC 9420 12.4")
    entries, used = _resolve(state, commit, sender, now, first)
    if external:
        check_external_list(state.tree, entries)
        if commit.path is None:
            raise ValidationError("an external commit must have a path", "RFC 9420 12.4.3.2")
        _check_resync(state, entries, commit.path.leaf_node)
    else:
        check_member_list(state.tree, entries, sender.index or 0)
    applied = apply_proposals(state.tree, state.context, entries, state.config.components,
                              state.config.members_rule,
                              commit.path.leaf_node if external and commit.path else None)
    check_adds_under_new_extensions(state.context, applied)
    # 12.4.2 (receiving): the path must be there for Updates, Removes or an
    # empty commit. 12.4's table also marks GroupContextExtensions "path
    # required", and Accord always sends one then, but 12.4.2 lets a receiver
    # accept its absence, and ts-mls 1.6.4 sends such commits without a path.
    needs_path = not entries or any(isinstance(p, Update | Remove | SelfRemove)
                                    for p, _ in entries)
    if needs_path and commit.path is None:
        raise ValidationError("this commit requires a path", "RFC 9420 12.4.2")
    return CheckedCommit(entries, used, applied, external)


def committer_leaf(auth: AuthenticatedContent, applied: Applied, external: bool) -> int:
    """The committer's leaf: its own, or (external commit) the leftmost blank one of
    the tree after the proposals, which is extended if there is none (12.4.2)."""
    return free_leaf(applied.tree) if external else auth.content.sender.index or 0


def _next_from_commit(
    state: GroupState, auth: AuthenticatedContent, commit: Commit, applied: Applied,
    used: dict[bytes, CachedProposal], external: bool, now: int | None,
) -> tuple[NextEpoch, int]:
    """The next epoch after a received commit, and the committer's leaf."""
    tree = applied.tree
    old = state.context
    exts = tuple(applied.extensions)
    keys = _own_update_keys(state, applied, used, surviving_keys(state, applied))
    commit_secret = bytes(state.suite.kdf_len)
    sender_leaf = committer_leaf(auth, applied, external)
    if commit.path is not None:
        ctx = GroupContext(old.version, old.cipher_suite, old.group_id, old.epoch + 1, b"",
                           old.confirmed_transcript_hash, exts)
        check_path_leaf(state, commit.path.leaf_node, sender_leaf, tree, exts, external, now)
        added = [leaf for leaf, _ in applied.added]
        done = process_update_path(tree, sender_leaf, commit.path, state.own_leaf, keys, ctx,
                                   exclude=added)
        commit_secret, keys = done.commit_secret, done.keys
    init_secret = None
    if applied.external_init is not None:
        priv = state.secrets.external_key_pair()[0]
        init_secret = external_init_receive(state.suite, priv, applied.external_init.kem_output)
    psk_secret = resolve_psks(state, applied.psks)
    nxt = derive_next(state, auth, tree, exts, commit_secret, psk_secret, keys, init_secret)
    if auth.confirmation_tag is None:
        raise ValidationError("a commit carries a confirmation_tag", "RFC 9420 6.1")
    verify_confirmation_tag(state.suite, nxt.secrets.confirmation_key,
                            nxt.context.confirmed_transcript_hash, auth.confirmation_tag)
    types = kept_credential_types(state, applied, None if external else sender_leaf,
                                  commit.path.leaf_node if commit.path else None)
    return dataclasses.replace(nxt, reinit=applied.reinit, credential_types=types), sender_leaf


def check_path_leaf(
    state: GroupView, leaf: LeafNode, sender_leaf: int, tree: Tree, exts: tuple[Extension, ...],
    external: bool, now: int | None,
) -> None:
    """The committer's new leaf (12.4.2): valid (7.3), its signature key its
    own, and, for a member, the same identity as its old leaf (5.3.1)."""
    rules_ctx = dataclasses.replace(state.context, extensions=exts)
    validate_leaf_node(
        state.suite, leaf, source=LeafNodeSource.COMMIT,
        group_id=state.context.group_id, leaf_index=sender_leaf,
        rules=rules_for(state, rules_ctx), now=now,
        credential_validator=state.config.credential_validator, check_signature=False,
    )
    previous = None if external else state.tree.leaf(sender_leaf)
    if previous is not None:
        check_successor(previous.credential, leaf.credential)
    who = tree.find_signature_key(leaf.signature_key)
    if who is not None and who != sender_leaf:
        raise ValidationError("the path's signature key is another member's", "RFC 9420 7.3")


def _check_resync(
    state: GroupView, entries: list[tuple[Proposal, Sender]], leaf: LeafNode
) -> None:
    """12.2: a joiner that removes an old leaf must present identifiers the
    application accepts for it; Accord asks for the same credential."""
    for p, _ in entries:
        if isinstance(p, Remove):
            old = state.tree.leaf(p.removed)
            if old is not None and old.credential != leaf.credential:
                raise ValidationError("a resync removes a leaf of another client", "RFC 9420 12.2")


def _own_update_keys(
    state: GroupState, applied: Applied, used: dict[bytes, CachedProposal], keys: PathKeys
) -> PathKeys:
    """When another member commits our Update, our leaf key is the one we proposed (12.1.2)."""
    if state.own_leaf not in applied.updated:
        return keys
    for c in used.values():
        if c.leaf_priv is not None and c.sender.index == state.own_leaf:
            return keys.replaced({2 * state.own_leaf: c.leaf_priv})
    raise ValidationError("our leaf was updated with a proposal we do not know", R_COMMIT)


def free_leaf(tree: Tree) -> int:
    """Leftmost blank leaf, extending the tree when there is none (12.4.2, external)."""
    for leaf in range(tree.n_leaves):
        if tree.leaf(leaf) is None:
            return leaf
    n = tree.n_leaves
    tree.extend()
    return n


def _own_commit_result(state: GroupState, nxt: GroupState) -> ProcessResult:
    assert state.pending is not None
    return ProcessResult(ContentType.COMMIT, Sender.member(state.own_leaf), state.epoch, b"",
                         proposals=state.pending.proposals)

