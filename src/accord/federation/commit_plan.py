"""The hub's commit plan: the check run on the locked group in the commit's transaction
(:data:`accord.storage.records.LeafPlan`), for every origin (``federation.hub``).

The commit's content, references resolved, must be exactly the declared roster
change; against the group's public MLS state it must be a commit every member
accepts (``accord.mls.group.public``); an external commit must only join
(:func:`joined_leaf`); a MIMI commit's GroupInfo must describe the next epoch
(:func:`check_group_info`). What the hub reads in the messages is
:mod:`accord.federation.mls_check`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accord.errors import CryptoError, DecodeError, ValidationError
from accord.federation.mls_check import (
    CommitEffects,
    CommitView,
    added_leaves,
    effects_of,
    hub_group,
    identity_device,
    identity_device_account,
    member_devices,
    resolve,
    same_identity,
)
from accord.mls.codec import decode
from accord.mls.group import public
from accord.mls.group.welcome_crypto import verify_group_info
from accord.mls.structs import ExternalInit, Remove, SelfRemove
from accord.mls.structs.welcome import GroupInfo
from accord.mls.transcript import interim_transcript_hash
from accord.storage import CommitChange, GroupRecord
from accord.storage.records import AddedLeaf, LeafPlan
from accord.wire.accounts import domain_of
from accord.wire.messages import erased_leaf


def check_group_info(raw: bytes, group: public.PublicGroup) -> None:
    """A GroupInfo (without its tree) describes exactly ``group``, the hub's public state
    after the commit it came with: the same GroupContext, the commit's confirmation tag
    (the interim transcript hash follows from it, RFC 9420 8.2), signed by the member
    at its ``signer`` leaf (12.4.3). The hub serves it for external joins (MIMI 5.6)."""
    try:
        info = decode(GroupInfo, raw)
    except DecodeError as exc:
        raise ValidationError(f"not a GroupInfo: {exc}", "RFC 9420 12.4.3") from None
    if info.group_context != group.context:
        raise ValidationError("the GroupInfo's GroupContext is not the new epoch's",
                              "RFC 9420 12.4.3")
    if interim_transcript_hash(group.suite, info.group_context.confirmed_transcript_hash,
                               info.confirmation_tag) != group.interim_transcript_hash:
        raise ValidationError("the GroupInfo's confirmation tag is not the commit's",
                              "RFC 9420 8.2")
    signer = group.tree.leaf(info.signer)
    if signer is None:
        raise ValidationError("the GroupInfo's signer is no member", "RFC 9420 12.4.3")
    try:
        verify_group_info(group.suite, info, signer.signature_key)
    except CryptoError:
        raise ValidationError("the GroupInfo's signature does not verify",
                              "RFC 9420 12.4.3") from None


def leaf_plan(view: CommitView, change: CommitChange, welcome: frozenset[bytes] | None,
              placed: Mapping[str, str], sender_identity: bytes, raw: bytes,
              now_ms: int, group_info: bytes | None = None, info_required: bool = False
              ) -> LeafPlan:
    """The check run on the locked group: the commit's content, references resolved,
    must be exactly the declared change (and each added device ``placed`` where its
    credential says), and, against the group's public MLS state, be a commit every
    member accepts (``accord.mls.group.public``, as far as no secret is needed);
    returns the new members' leaves and credential accounts, and the next epoch's
    public state. A ``group_info`` (MIMI 5.3) must describe that next epoch
    (``check_group_info``); for a group older than the hub's public state it is
    refused if ``info_required`` (MIMI needs it), else left aside (not kept)."""

    def plan(group: GroupRecord, accepted: Sequence[bytes], state: bytes | None
             ) -> tuple[dict[str, AddedLeaf], bytes | None]:
        leaf_of = dict(zip(group.members, group.leaves, strict=False))
        if any(leaf is None for leaf in leaf_of.values()):
            raise ValidationError("the hub does not know every member's leaf", "RFC 9420 7.7")
        check_sender(view, change, leaf_of)  # type: ignore[arg-type]
        # T18: an erased account's leaf is named erased:<leaf> (no device is left)
        leaf_of = {**{erased_leaf(leaf): leaf for leaf in group.erased}, **leaf_of}
        if state is None:  # a group created before the hub kept its state (THREATS.md T05)
            if (group_info is not None and info_required) or change.joins:
                raise ValidationError("this hub keeps no MLS state of this group to check a"
                                      " GroupInfo or an external commit against", "MIMI 5.6")
            same_identity(view.path_credential, sender_identity)
            return _roster_plan(leaf_of, effects_of(resolve(view, accepted))), None
        # The members' own checks (signature, proposals, path) resolve the proposals,
        # and the roster change is read from what they resolved.
        before = hub_group(state)
        done = public.apply_commit(before, raw, accepted, now_ms // 1000)
        joined = {change.sender: joined_leaf(before, done, sender_identity)
                  } if change.joins else {}
        leaves = _roster_plan(leaf_of, effects_of(done.proposals, done.removed))
        if group_info is not None:
            check_group_info(group_info, done.next)
        at = {identity_device(kp.leaf_node.credential.identity): leaf
              for leaf, kp in done.added}
        return {**{d: leaves[d]._replace(leaf=at[d]) for d in change.added},
                **joined}, done.next.to_bytes()

    def _roster_plan(leaf_of: dict[str, int | None], effects: CommitEffects
                     ) -> dict[str, AddedLeaf]:
        check_declared(effects, change, leaf_of)  # type: ignore[arg-type]
        accounts = dict(zip(effects.added, effects.added_accounts, strict=True))
        keys = dict(zip(effects.added, effects.added_keys, strict=True))
        for device, account in accounts.items():
            domain = domain_of(account)
            if placed.get(device, domain) != domain:
                raise ValidationError("an added device is not hosted where its credential says",
                                      "Accord federation: device placement")
        if welcome is not None and welcome != set(effects.added_refs):
            raise ValidationError("the Welcome is not for exactly the added KeyPackages",
                                  "RFC 9420 12.4.3.1")
        occupied = {leaf for d, leaf in leaf_of.items() if d not in change.removed}
        at = added_leaves(occupied, len(change.added))
        return {device: AddedLeaf(leaf, accounts[device], keys[device])
                for device, leaf in zip(change.added, at, strict=True)}

    return plan


def joined_leaf(before: public.PublicGroup, done: public.PublicCommit,
                sender_identity: bytes) -> AddedLeaf:
    """An external commit (RFC 9420 12.4.3.2) the hub takes: a new leaf of the device
    ``sender_identity`` names, for a user with a member device in the room (as for
    GroupInfo, MIMI 5.6), that does nothing but join: its ExternalInit, a Remove of
    that device's own old leaf (a resync), the epoch's SelfRemoves (their senders'
    own, draft-ietf-mls-extensions 5.3). Its leaf, account and key."""
    account = identity_device_account(sender_identity)
    leaf = done.next.tree.leaf(done.committer)
    assert leaf is not None  # apply_commit put the joiner's path leaf there
    if leaf.credential.identity != sender_identity:
        raise ValidationError("an external commit's leaf does not name the joining device",
                              "RFC 9420 12.4.3.2")
    if not member_devices(before, account):
        raise ValidationError("only a user with a member device in the room joins it by an"
                              " external commit", "MIMI 5.6")
    for proposal in done.proposals:
        if isinstance(proposal, ExternalInit | SelfRemove):
            continue
        old = before.tree.leaf(proposal.removed) if isinstance(proposal, Remove) else None
        if old is None or old.credential.identity != sender_identity:
            raise ValidationError("an external commit only joins: its ExternalInit, a Remove"
                                  " of the joiner's own old leaf, SelfRemoves",
                                  "MIMI 5.3 (RFC 9420 12.4.3.2)")
    return AddedLeaf(done.committer, account, bytes(leaf.signature_key))


def check_sender(view: CommitView, change: CommitChange, leaf_of: dict[str, int]) -> None:
    """The commit comes from the committing device's own leaf; an external commit from
    a device that joins with it."""
    if change.joins != (view.sender_leaf is None):
        raise ValidationError("an external commit is the joining device's, and only it is",
                              "RFC 9420 12.4.3.2")
    if not change.joins and leaf_of.get(change.sender) != view.sender_leaf:
        raise ValidationError("the commit is not signed from the committer's leaf",
                              "RFC 9420 12.4")


def check_declared(effects: CommitEffects, change: CommitChange,
                   leaf_of: dict[str, int]) -> None:
    """The request's declared ``added`` and ``removed`` against the content."""
    if list(effects.added) != list(change.added):
        raise ValidationError("'added' must list the commit's Add proposals, in order",
                              "RFC 9420 12.1.1")
    at = {leaf: d for d, leaf in leaf_of.items()}
    removed = [at.get(leaf) for leaf in effects.removed_leaves]
    if None in removed or sorted(removed) != sorted(change.removed):  # type: ignore[type-var]
        raise ValidationError("'removed' must be the devices the Remove proposals name",
                              "RFC 9420 12.1.3")
