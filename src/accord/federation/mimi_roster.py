"""A follower's view of a room it follows over MIMI, worked out from MLS alone.

Accord's own fan-out hands a follower the roster with every commit
(``FedItem.roster``); a MIMI ``FanoutMessage`` (draft-ietf-mimi-protocol-06
5.5) carries MLS only. The follower reads what it needs from public parts:

- a Welcome's RatchetTreeOption is the room's tree: each occupied leaf's basic
  credential names ``account/device`` (RFC 9420 5.3), the account's domain
  hosts the device;
- each later commit (a PublicMessage, as the hub takes them) moves the view on
  by its Adds, Removes and SelfRemoves, proposals by reference resolved against
  the epoch's proposals the follower was handed, the Adds placed by the hub's
  own rule (``mls_check.added_leaves``: RFC 9420 12.1.1, 7.7), and an external
  commit's joiner placed after them (12.4.3.2);
- a proposal must come from an occupied leaf of the epoch.

The epoch of a Welcome is inside its encrypted GroupInfo: a follower that joins
a room by a Welcome knows the tree but not the epoch (``epoch`` None) until the
room's next handshake message names it; from then on a commit or proposal of
any other epoch is refused. Nothing here can vouch for the tree's secrets: the
hub (the signer of the notify) is trusted for the room's order, as in Accord's
own fan-out, and the members' clients check the MLS themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from accord.errors import DecodeError, ValidationError
from accord.federation import mls_check
from accord.mls.codec import decode
from accord.mls.structs import Remove, SelfRemove
from accord.mls.structs.enums import ContentType, SenderType
from accord.mls.structs.messages import MLSMessage, PublicMessage
from accord.mls.structs.tree_nodes import LeafNode
from accord.wire import mimi as w
from accord.wire.accounts import domain_of


@dataclass(frozen=True)
class RoomView:
    """The room as the follower follows it: the epoch (None: not known yet) and the
    credential identity (``account/device``) at each occupied leaf."""

    epoch: int | None
    leaves: Mapping[int, str]

    def to_bytes(self) -> bytes:
        return json.dumps({"epoch": self.epoch,
                           "leaves": sorted([k, v] for k, v in self.leaves.items())}).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> RoomView:
        doc = json.loads(raw)
        return cls(doc["epoch"], {int(k): str(v) for k, v in doc["leaves"]})

    def devices(self) -> dict[str, int]:
        """device id -> leaf."""
        return {v.rsplit("/", 1)[1]: k for k, v in self.leaves.items()}

    def account_at(self, leaf: int | None) -> tuple[str, str]:
        """``(account, device)`` at an occupied leaf; refused for a blank one."""
        identity = None if leaf is None else self.leaves.get(leaf)
        if identity is None:
            raise ValidationError("the sender's leaf is not a member of the room",
                                  "RFC 9420 12.1")
        account, device = identity.rsplit("/", 1)
        return account, device

    def device_of(self, account: str) -> str | None:
        """A member device of ``account`` (the one at the lowest leaf); None if it has none."""
        for _, identity in sorted(self.leaves.items()):
            owner, device = identity.rsplit("/", 1)
            if owner == account:
                return device
        return None

    def roster(self) -> list[tuple[str, str]]:
        """``(device, domain)`` of every member, the domain its account's."""
        return sorted((v.rsplit("/", 1)[1], domain_of(v.rsplit("/", 1)[0]))
                      for v in self.leaves.values())

    def local(self, domain: str) -> list[str]:
        return sorted(d for d, dom in self.roster() if dom == domain)


def _identity(leaf: LeafNode) -> str:
    identity = leaf.credential.identity
    mls_check.identity_device(identity)  # account/device, else a ValidationError
    assert identity is not None
    return identity.decode()


def from_tree(option: w.RatchetTreeOption, epoch: int | None) -> RoomView:
    """A Welcome's tree (5.5: RatchetTreeOption ``full``) as a view; a device named at
    two leaves is refused."""
    leaves = {x >> 1: _identity(node) for x, node in enumerate(option.ratchet_tree)
              if x % 2 == 0 and isinstance(node, LeafNode)}
    view = RoomView(epoch, leaves)
    if len(view.devices()) != len(leaves):
        raise ValidationError("the room's tree names a device at two leaves", "RFC 9420 7.7")
    return view


def _public(raw: bytes, what: str) -> PublicMessage:
    try:
        msg = decode(MLSMessage, raw).message
    except DecodeError as exc:
        raise DecodeError(f"{what} is not an MLSMessage: {exc}") from exc
    if not isinstance(msg, PublicMessage):
        raise ValidationError(f"{what} comes from the hub in a PublicMessage",
                              "Accord hub: handshake in PublicMessage (RFC 9420 6.2)")
    return msg


def _epoch(view: RoomView, pm: PublicMessage) -> int:
    """The epoch a handshake message must be of: the view's, once known."""
    if view.epoch is not None and pm.content.epoch != view.epoch:
        raise ValidationError(f"a message of epoch {pm.content.epoch}, the room is at"
                              f" {view.epoch} here", "RFC 9420 6.3")
    return int(pm.content.epoch)


@dataclass(frozen=True)
class Proposal:
    sender: str  # device id at the proposal's leaf
    account: str
    view: RoomView  # the epoch learnt, if it was not known


def follow_proposal(view: RoomView, raw: bytes, group_id: bytes) -> Proposal:
    pm = _public(raw, "a proposal")
    fc = pm.content
    if fc.group_id != group_id:
        raise ValidationError("the proposal is for another group", "RFC 9420 6.3")
    epoch = _epoch(view, pm)
    if fc.content_type != ContentType.PROPOSAL or fc.sender.sender_type != SenderType.MEMBER:
        raise ValidationError("not a member's proposal", "RFC 9420 12.1")
    account, device = view.account_at(fc.sender.index)
    return Proposal(device, account, replace(view, epoch=epoch))


@dataclass(frozen=True)
class Commit:
    sender: str  # the committer's device (an external commit's: the joining device)
    account: str
    added: tuple[str, ...]  # devices the commit adds, in order
    added_refs: tuple[bytes, ...]  # their KeyPackageRefs
    removed: tuple[str, ...]
    view: RoomView  # the room in the epoch the commit opens


def follow_commit(view: RoomView, raw: bytes, group_id: bytes, accepted: Sequence[bytes]
                  ) -> Commit:
    """Move the view on by a commit of its epoch (module docstring): a member's, or a
    new member's external commit (RFC 9420 12.4.3.2), whose leaf goes where an Add
    would, after the commit's own proposals."""
    epoch = _epoch(view, _public(raw, "a commit"))
    cv = mls_check.view_commit(raw, group_id, epoch)
    joining = mls_check.joiner(cv)
    if joining is None:
        account, device = view.account_at(cv.sender_leaf)
        mls_check.same_identity(cv.path_credential, f"{account}/{device}".encode())
    else:
        account, device = joining
    resolved = mls_check.resolve_senders(cv, accepted)
    removed: list[int] = []
    for proposal, by in resolved:
        leaf = proposal.removed if isinstance(proposal, Remove) else (
            by if isinstance(proposal, SelfRemove) else None)
        if leaf is None:
            continue
        if leaf not in view.leaves or leaf in removed:
            raise ValidationError("a Remove names no member", "RFC 9420 12.1.3")
        removed.append(leaf)
    effects = mls_check.effects_of([p for p, _ in resolved], removed)
    kept = {k: v for k, v in view.leaves.items() if k not in removed}
    at = mls_check.added_leaves(kept, len(effects.added))
    devices = {v.rsplit("/", 1)[1] for v in kept.values()}
    for d, leaf, acc in zip(effects.added, at, effects.added_accounts, strict=True):
        if d in devices:
            raise ValidationError("an added device is a member already", "RFC 9420 12.2")
        devices.add(d)
        kept[leaf] = f"{acc}/{d}"
    if joining is not None:
        if device in devices:
            raise ValidationError("an external commit's device is a member already",
                                  "RFC 9420 12.4.3.2")
        kept[mls_check.added_leaves(kept, 1)[0]] = f"{account}/{device}"
    return Commit(device, account, effects.added, effects.added_refs,
                  tuple(view.leaves[k].rsplit("/", 1)[1] for k in removed),
                  RoomView(epoch + 1, kept))
