"""The narrow interface of the provider store, and the records it hands out.

The server's services speak only this; the engines behind it (SQLite,
PostgreSQL) are chosen at start-up by :func:`accord.storage.open_store`.
Failures are typed: :class:`~accord.errors.NotFound`,
:class:`~accord.errors.Conflict` (and :class:`EpochConflict`),
:class:`~accord.errors.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from accord.errors import EpochConflict as EpochConflict  # what every engine raises
from accord.storage.federation_interface import FederationStore

if TYPE_CHECKING:
    from accord.storage.engine import Engine


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
class QueueItem:
    seq: int
    msg_id: str
    kind: str
    group_id: bytes | None
    epoch: int | None
    sender: str | None
    body: bytes
    created_at: int


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


class Store(FederationStore, Protocol):
    # The SQL engine under the store: the tables kept by functions of their own
    # modules (privacy_sql, account_sql, rendezvous_sql, transparency_sql) take it.
    engine: Engine

    async def close(self) -> None: ...
    async def ping(self) -> None: ...

    # accounts and devices
    async def create_account(self, device: DeviceRecord) -> None: ...
    async def add_device(self, device: DeviceRecord) -> None: ...
    async def get_device(self, device_id: str) -> DeviceRecord: ...
    async def list_devices(self, account: str) -> list[DeviceRecord]: ...
    async def remove_device(self, device_id: str) -> None: ...
    async def put_challenge(self, nonce: bytes, device_id: str, expires_at: int) -> None: ...
    async def take_challenge(self, nonce: bytes) -> tuple[str, int]: ...
    async def put_session(self, token_hash: bytes, device_id: str, expires_at: int) -> None: ...
    async def get_session(self, token_hash: bytes) -> tuple[str, int]: ...

    # key packages
    async def add_key_packages(
        self,
        device_id: str,
        items: Sequence[bytes],
        last_resort: bytes | None,
        refs: Sequence[bytes | None] = (),
        cipher_suite: int = 1,
    ) -> int: ...
    async def count_key_packages(self, device_id: str, cipher_suite: int = 1
                                 ) -> tuple[int, bool]: ...
    async def key_package_status(self, device_id: str, cipher_suite: int = 1
                                 ) -> KeyPackageStatus: ...
    async def claim_key_packages(self, account: str, cipher_suite: int = 1, now: int = 0,
                                 one_time: bool = True) -> list[ClaimedKeyPackage]: ...

    # groups and delivery
    async def create_group(
        self, group_id: bytes, hub: str, creator: str, posting_key: bytes, now: int,
        public_state: bytes,
    ) -> GroupRecord: ...
    async def get_group(self, group_id: bytes) -> GroupRecord: ...
    async def fetch_queue(self, device_id: str, after: int, limit: int) -> list[QueueItem]: ...
    async def ack_queue(self, device_id: str, up_to: int) -> int: ...
    async def purge(self, now: int, message_cutoff: int, blob_cutoff: int) -> dict[str, int]: ...

    # blobs
    async def put_blob(self, cap_hash: bytes, sha256: bytes, data: bytes, now: int) -> None: ...
    async def get_blob(self, cap_hash: bytes) -> bytes: ...
