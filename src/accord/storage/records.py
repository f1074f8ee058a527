"""The records the provider store takes and hands out (:mod:`accord.storage.interface`).

Plain values, declared once here so that the interface, its federation half
and the SQL modules all import them from below.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    device_id: str
    account: str
    signature_key: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class GroupRecord:
    group_id: bytes
    hub: str
    epoch: int
    members: tuple[str, ...]
    # The MLS leaf index of each member (same order), None where unknown.
    leaves: tuple[int | None, ...] = ()
    # The provider hosting each member (same order), None for this provider's own
    # devices (issue 17: a member's provider comes with the member, never from a
    # device id alone; ``accord.storage.binding_sql``).
    domains: tuple[str | None, ...] = ()
    # The leaves of members whose accounts were erased (T18): no device is left to
    # name them, and a member's commit removes each as ``erased_leaf(leaf)``.
    erased: tuple[int, ...] = ()

    def leaf_of(self, device_id: str) -> int | None:
        return dict(zip(self.members, self.leaves, strict=False)).get(device_id)

    def where(self) -> dict[str, str | None]:
        """Member device -> its provider (None: ours)."""
        domains = self.domains or (None,) * len(self.members)
        return dict(zip(self.members, domains, strict=True))

    def has_local(self, device_id: str) -> bool:
        """``device_id`` is a member, and it is that device of this provider."""
        return device_id in self.members and self.where()[device_id] is None

    def hosted_by(self, domain: str, device_id: str | None = None) -> bool:
        """``domain`` hosts a member (that member, given ``device_id``)."""
        where = self.where()
        if device_id is not None:
            return device_id in where and where[device_id] == domain
        return domain in where.values()


class AddedLeaf(NamedTuple):
    """A device a commit adds: its leaf, the account its credential names, its key."""

    leaf: int | None
    account: str
    signature_key: bytes = b""


# Called inside the commit's transaction with the locked group, the bodies of
# the proposals the hub accepted in its epoch and the group's public MLS state
# (None: a group created before the hub kept it); returns each added device's
# leaf and credential account, and the public state of the next epoch, or raises
# to refuse the commit.
LeafPlan = Callable[[GroupRecord, Sequence[bytes], bytes | None],
                    tuple[Mapping[str, AddedLeaf], bytes | None]]

# Called inside a proposal's transaction with the locked group, the bodies of the
# proposals the hub accepted in its epoch and the group's public MLS state (None: a
# group created before the hub kept it); raises to refuse the proposal. What it
# checks beside the accepted proposals (one SelfRemove per member and epoch) holds
# for two proposals sent at once.
ProposalCheck = Callable[[Sequence[bytes], bytes | None], None]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to fan out. ``sender`` is None for application messages (T11)."""

    msg_id: str
    kind: str
    group_id: bytes | None
    epoch: int | None
    sender: str | None
    body: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class QueueItem(NewMessage):
    """A stored message at its place (``seq``) in one device's queue."""

    seq: int


@dataclass(frozen=True, slots=True)
class ClaimedKeyPackage:
    device_id: str
    data: bytes
    last_resort: bool


@dataclass(frozen=True, slots=True)
class KeyPackageStatus:
    """What a device learns about its KeyPackages (the owner's notice, T14)."""

    count: int  # one-time KeyPackages left
    last_resort: bool  # one is stored
    last_resort_used: bool  # handed out since it was uploaded: rotate it
    withheld: int  # claims answered with it because a claim limit was reached


@dataclass(frozen=True, slots=True)
class CommitChange:
    """What a commit does to a group's roster, as the hub checks and applies it."""

    group_id: bytes
    epoch: int
    sender: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    next_posting_key: bytes
    # A ReInit commit (RFC 9420 11.2): the group ends with it, for posts and commits.
    ends_group: bool = False
    # An external commit (RFC 9420 12.4.3.2): ``sender`` is no member yet and joins with
    # it, at the leaf the plan returns for it (a new device of a member user, MIMI 5.3).
    joins: bool = False

    @property
    def entering(self) -> tuple[str, ...]:
        """The devices that become members: the added ones and an external committer."""
        return (*self.added, self.sender) if self.joins else self.added


# the federation's records (accord.storage.federation_sql) ------------------------------

Roster = list[tuple[str, str]]
# (message, recipients at one peer, roster after a commit or None, group epoch after it,
#  the hub's chain link (epoch, value) of a commit and its Welcome, T07) -> item bytes
ItemEncoder = Callable[
    [NewMessage, list[str], Roster | None, int | None, tuple[int, bytes] | None], bytes]


# (item, (account, from_account) message requests, recipients who refuse the group)
Filing = tuple["Delivered", Sequence[tuple[str, str]], Collection[str]]


@dataclass(frozen=True, slots=True)
class OutboxBatch:
    peer: str
    failures: int
    items: list[tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class ViewWrite:
    """A follower's new view of a MIMI room (``mimi_follow_sql``), written with the
    messages it follows from, over ``version`` (None: the room's first view)."""

    group_id: bytes
    version: int | None
    view: bytes


@dataclass(frozen=True, slots=True)
class Delivered:
    """A hub's item as the follower files it (fields of ``FedItem``), with what only the
    hub computes: its Frank (T13, kept until ``tag_expires_at``) and its chain
    link ``(epoch, value)`` (T07), filed in the item's own transaction."""

    message: NewMessage
    recipients: Sequence[str]
    roster: Roster | None
    group_epoch: int | None
    frank: bytes | None = None
    tag_expires_at: int = 0
    link: tuple[int, bytes] | None = None
    first_contact: Mapping[str, bytes] | None = None  # a Welcome's, by device (issue 18)
