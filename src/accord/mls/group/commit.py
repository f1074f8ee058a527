"""Creating a commit (RFC 9420 12.4.1) and the Welcome for the members it adds.

The commit is not applied at once: the returned state carries it as
``pending`` (with the state it leads to), so the committer can merge it
once the delivery service has accepted it, or discard it if another commit
won the epoch (14).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from accord.errors import Conflict, ValidationError
from accord.mls.framing import sign_content, with_confirmation_tag
from accord.mls.group.app_proposals import check_by_value
from accord.mls.group.epoch import (
    NextEpoch,
    changed_leaves,
    enter_epoch,
    kept_credential_types,
    make_group_info,
    resolve_psks,
)
from accord.mls.group.proposals import (
    Applied,
    apply_proposals,
    check_adds_under_new_extensions,
    check_member_list,
    check_proposal,
    rules_for,
)
from accord.mls.group.send import check_active, handshake_format, send_handshake
from accord.mls.group.state import CachedProposal, GroupState, GroupView, PendingCommit
from accord.mls.group.welcome_crypto import seal_group_info, seal_group_secrets_many
from accord.mls.key_schedule import derive_epoch
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    Add,
    AppDataUpdate,
    AuthenticatedContent,
    Commit,
    Extension,
    FramedContent,
    GroupContext,
    GroupContextExtensions,
    GroupSecrets,
    LeafNode,
    MLSMessage,
    PathSecret,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    ReInit,
    Remove,
    SelfRemove,
    Sender,
    Update,
    UpdatePath,
    Welcome,
)
from accord.mls.transcript import (
    confirmation_tag,
    interim_transcript_hash,
    update_transcript_hashes,
)
from accord.mls.tree_math import common_ancestor
from accord.mls.treekem import PathKeys, create_update_path

__all__ = [
    "CommitResult",
    "commit",
    "discard_pending",
    "merge_pending",
    "next_context",
]


@dataclasses.dataclass(frozen=True, slots=True)
class CommitResult:
    commit: MLSMessage
    welcome: MLSMessage | None
    # GroupInfo of the new epoch (with tree and external_pub) when asked for:
    # building it encodes the whole tree, so it is not done by default.
    group_info: MLSMessage | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class _Draft:
    """A commit under construction: what create and the Welcome both need."""

    entries: list[tuple[Proposal, Sender]]
    por: list[bytes | Proposal]
    applied: Applied
    extensions: tuple[Extension, ...]


def commit(
    state: GroupState,
    *,
    now: int,
    proposals: Sequence[bytes] | None = None,
    by_value: Sequence[Proposal] = (),
    force_path: bool = False,
    inline_tree: bool = True,
    with_group_info: bool = False,
    authenticated_data: bytes = b"",
    leaf: LeafNode | None = None,
    resumption_from: Sequence[GroupState] = (),
    _special_psk_usage: bool = False,
) -> tuple[CommitResult, GroupState]:
    """Commit ``proposals`` (refs of cached proposals; None: all cached ones that
    fit, 12.4) and ``by_value`` proposals. Returns the messages and our state
    with the commit pending; call ``merge_pending`` once it is accepted.

    ``force_path`` adds an UpdatePath even when no proposal needs one (12.4);
    ``inline_tree`` puts the ratchet tree into the Welcome's GroupInfo;
    ``leaf`` is a template for our new leaf (to change credential or
    extensions); ``resumption_from`` holds other groups whose resumption PSKs
    the proposals name.
    """
    check_active(state)
    if state.pending is not None:
        # 14: one commit per epoch from us; merge or discard the pending one first.
        raise Conflict("a commit of ours is already pending in this epoch")
    draft = _draft(state, proposals, by_value, now, _special_psk_usage)
    applied = draft.applied
    tree = applied.tree
    old = state.context
    path, commit_secret, keys, path_secrets = _maybe_path(
        state, draft, force_path or applied.path_required, leaf)
    psk_secret = resolve_psks(state, applied.psks, resumption_from)
    content = FramedContent(old.group_id, old.epoch, Sender.member(state.own_leaf),
                            authenticated_data, Commit(tuple(draft.por), path))
    auth = sign_content(state.suite, handshake_format(state), content, state.signature_priv, old)
    nxt = derive_next(state, auth, tree, draft.extensions, commit_secret, psk_secret, keys)
    auth = with_confirmation_tag(auth, nxt.confirmation_tag)
    msg, sent_state = send_handshake(state, auth)
    types = kept_credential_types(state, applied, state.own_leaf, path.leaf_node if path else None)
    nxt = dataclasses.replace(nxt, reinit=applied.reinit, credential_types=types)
    next_state = enter_epoch(sent_state, nxt, changed_leaves(applied, state.own_leaf))
    info = make_group_info(next_state) if with_group_info else None
    welcome = None
    if applied.added:
        welcome = _welcome(next_state, applied, path_secrets, inline_tree)
    committed = tuple(p for p, _ in draft.entries)
    pending = PendingCommit(msg.to_bytes(), next_state, committed)
    result = CommitResult(msg, welcome, MLSMessage.wrap(info) if info else None)
    return result, dataclasses.replace(sent_state, pending=pending)


def _maybe_path(
    state: GroupState, draft: _Draft, needed: bool, leaf: LeafNode | None
) -> tuple[UpdatePath | None, bytes, PathKeys, dict[int, bytes]]:
    """The UpdatePath when one is needed or wanted (12.4): (path, commit_secret,
    our keys after the commit, path secrets by node for the Welcome)."""
    applied = draft.applied
    if not needed:
        # 12.4.1: without a path the commit secret is the all-zero vector.
        return None, bytes(state.suite.kdf_len), surviving_keys(state, applied), {}
    old = state.context
    provisional = GroupContext(old.version, old.cipher_suite, old.group_id, old.epoch + 1,
                               b"", old.confirmed_transcript_hash, draft.extensions)
    created = create_update_path(
        applied.tree, state.own_leaf, state.signature_priv, provisional, leaf=leaf,
        exclude=[leaf_index for leaf_index, _ in applied.added],
    )
    return created.update_path, created.commit_secret, created.keys, dict(created.path_secrets)


def _draft(
    state: GroupState, refs: Sequence[bytes] | None, by_value: Sequence[Proposal],
    now: int, special_psk: bool,
) -> _Draft:
    me = Sender.member(state.own_leaf)
    cached = _pick_cached(state, refs)
    rules = rules_for(state) if by_value else None
    entries = [(c.proposal, c.sender) for c in cached]
    por: list[bytes | Proposal] = [c.ref for c in cached]
    for p in by_value:
        # The first commit of a reinit or branch carries the one PSK of usage
        # reinit/branch that 12.1.4 allows only there.
        check_by_value(p)
        if not (special_psk and isinstance(p, PreSharedKey)):
            check_proposal(state, p, me, now, rules)
        entries.append((p, me))
        por.append(p)
    check_member_list(state.tree, entries, state.own_leaf)
    applied = apply_proposals(state.tree, state.context, entries, state.config.components,
                              state.config.members_rule)
    check_adds_under_new_extensions(state.context, applied)
    return _Draft(entries, por, applied, tuple(applied.extensions))


def _pick_cached(state: GroupState, refs: Sequence[bytes] | None) -> list[CachedProposal]:
    if refs is not None:
        by_ref = {c.ref: c for c in state.proposals}
        missing = [r for r in refs if r not in by_ref]
        if missing:
            raise ValidationError("a proposal to commit by reference is unknown", "RFC 9420 12.4")
        return [by_ref[r] for r in refs]
    # 12.2: skip what would make the list invalid; prefer SelfRemoves, then Removes
    # (a Remove of a leaf that left by SelfRemove is invalid, draft-ietf-mls-extensions
    # 5.3), then the latest Update per leaf; our own Updates or SelfRemove cannot be
    # committed by us.
    leaving = {c.sender.index for c in state.proposals
               if isinstance(c.proposal, SelfRemove) and c.sender.index != state.own_leaf}
    removed = {c.proposal.removed for c in state.proposals if isinstance(c.proposal, Remove)}
    removed |= leaving  # type: ignore[arg-type]
    out = [c for c in state.proposals if isinstance(c.proposal, SelfRemove)
           and c.sender.index in leaving]
    seen: set[object] = {("remove", leaf) for leaf in leaving}
    # draft-ietf-mls-extensions 4.7: per component, updates or one remove (a remove of
    # absent state is refused on receipt).
    updated = {c.proposal.component_id for c in state.proposals
               if isinstance(c.proposal, AppDataUpdate) and c.proposal.update is not None}
    latest_update: dict[int, CachedProposal] = {}
    last_gce: CachedProposal | None = None
    for c in state.proposals:
        p = c.proposal
        if isinstance(p, Update):
            if c.sender.index != state.own_leaf and c.sender.index not in removed:
                latest_update[c.sender.index or 0] = c
        elif isinstance(p, GroupContextExtensions):
            last_gce = c  # at most one per commit: the latest
        elif isinstance(p, SelfRemove):
            continue  # taken above (one per leaf: 5.3 allows one per epoch)
        elif isinstance(p, AppDataUpdate) and p.update is None and p.component_id in updated:
            continue
        elif _once_key(p) not in seen and not (
            isinstance(p, Remove) and p.removed == state.own_leaf
        ):
            seen.add(_once_key(p))
            out.append(c)
    out += latest_update.values()
    if last_gce is not None:
        out.append(last_gce)
    if len(out) > 1:
        # 12.2: a ReInit goes alone; other proposals are preferred, and the
        # ReInit can be sent again in a later epoch.
        out = [c for c in out if not isinstance(c.proposal, ReInit)]
    return out


def _once_key(p: Proposal) -> object:
    """What may appear once in a commit (12.2): a Remove per leaf, an Add per
    client (signature key), a PSK per PreSharedKeyID, an AppDataUpdate remove per
    component (draft-ietf-mls-extensions 4.7); anything else is unique."""
    if isinstance(p, Remove):
        return ("remove", p.removed)
    if isinstance(p, Add):
        return ("add", p.key_package.leaf_node.signature_key)
    if isinstance(p, PreSharedKey):
        return ("psk", p.psk.to_bytes())
    if isinstance(p, AppDataUpdate) and p.update is None:
        return ("app_data_remove", p.component_id)
    return ("other", id(p))


def surviving_keys(state: GroupState, applied: Applied) -> PathKeys:
    # Keys of nodes the proposals blanked or truncated away are deleted.
    tree = applied.tree
    drop = [x for x in state.node_privs.nodes() if x >= tree.width or tree.node(x) is None]
    return state.node_privs.replaced({}, drop)


def derive_next(
    state: GroupState, auth: AuthenticatedContent, tree: Tree,
    extensions: tuple[Extension, ...], commit_secret: bytes, psk_secret: bytes | None, keys: PathKeys, init_secret: bytes | None = None,
    own_leaf: int | None = None,
) -> NextEpoch:
    """Transcript hashes, new GroupContext, epoch secrets and confirmation tag (8, 8.2)."""
    suite = state.suite
    ctx = next_context(state, auth, tree, extensions)
    confirmed = ctx.confirmed_transcript_hash
    secrets = derive_epoch(
        suite, init_secret if init_secret is not None else state.secrets.init_secret,
        commit_secret, psk_secret, ctx.to_bytes(),
    )
    tag = confirmation_tag(suite, secrets.confirmation_key, confirmed)
    interim = interim_transcript_hash(suite, confirmed, tag)
    leaf = state.own_leaf if own_leaf is None else own_leaf
    return NextEpoch(ctx, tree, leaf, keys, secrets, interim, tag)


def next_context(
    state: GroupView, auth: AuthenticatedContent, tree: Tree, extensions: Sequence[Extension]
) -> GroupContext:
    """The GroupContext a commit creates (8.1, 8.2): next epoch, the hash of the new
    tree, the confirmed transcript hash over the commit. Public: a delivery service
    that keeps the group's public state computes it too (``public``)."""
    old = state.context
    confirmed, _ = update_transcript_hashes(
        state.suite, state.interim_transcript_hash, auth.wire_format, auth.content.to_bytes(),
        auth.signature, b"",
    )
    return GroupContext(old.version, old.cipher_suite, old.group_id, old.epoch + 1,
                        tree.tree_hash(), confirmed, tuple(extensions))


def _welcome(
    state: GroupState, applied: Applied, path_secrets: dict[int, bytes], inline_tree: bool
) -> MLSMessage:
    """The Welcome for every member this commit adds (12.4.3.1)."""
    suite = state.suite
    info = make_group_info(state, with_tree=inline_tree, with_external_pub=False)
    encrypted_info = seal_group_info(suite, state.secrets.welcome_secret, info)
    psks: tuple[PreSharedKeyID, ...] = tuple(applied.psks)
    me = 2 * state.own_leaf
    encoded: dict[bytes | None, bytes] = {}  # GroupSecrets differ only by path secret
    plaintexts = []
    for leaf_index, _ in applied.added:
        ps = path_secrets[common_ancestor(me, 2 * leaf_index)] if path_secrets else None
        if ps not in encoded:
            secrets = GroupSecrets(state.secrets.joiner_secret,
                                   PathSecret(ps) if ps is not None else None, psks)
            encoded[ps] = secrets.to_bytes()
        plaintexts.append(encoded[ps])
    entries = seal_group_secrets_many(
        suite, [kp for _, kp in applied.added], encrypted_info, plaintexts
    )
    return MLSMessage.wrap(Welcome(suite.id, tuple(entries), encrypted_info))


def merge_pending(state: GroupState) -> GroupState:
    """The state after our pending commit (14: once the DS accepted it)."""
    if state.pending is None:
        raise ValidationError("no pending commit to merge", "RFC 9420 14")
    return state.pending.next_state


def discard_pending(state: GroupState) -> GroupState:
    """Drop our pending commit (another commit won the epoch, 14)."""
    return dataclasses.replace(state, pending=None)
