"""The narrow interface of the provider store (records: :mod:`accord.storage.records`).

The server's services speak only this; the engines behind it (SQLite,
PostgreSQL) are chosen at start-up by :func:`accord.storage.open_store`.
Failures are typed: :class:`~accord.errors.NotFound`,
:class:`~accord.errors.Conflict` (and :class:`EpochConflict`),
:class:`~accord.errors.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from accord.errors import EpochConflict as EpochConflict  # what every engine raises
from accord.storage.federation_interface import FederationStore
from accord.storage.records import (
    ClaimedKeyPackage,
    DeviceRecord,
    GroupRecord,
    KeyPackageStatus,
    QueueItem,
)

if TYPE_CHECKING:
    from accord.storage import areas
    from accord.storage.consent_sent_sql import SentConsent
    from accord.storage.engine import Engine
    from accord.storage.post_batch import PostWriter


class Store(FederationStore, Protocol):
    # The SQL engine under the store: only the composition root's start-up hands it
    # on (to the transparency log); services use the methods and areas below.
    engine: Engine
    posts: PostWriter  # the node's writer of posts (group commit; its depth is a metric)
    # The tables kept by SQL modules of their own (privacy_sql, account_sql,
    # rendezvous_sql, transparency_sql), one object per area (accord.storage.areas).
    reports: areas.Reports
    admin: areas.Admin
    backups: areas.Backups
    rendezvous: areas.Rendezvous
    franking: areas.Franking
    peer_heads: areas.PeerHeads
    accounts: areas.Accounts
    secrets: areas.Secrets
    consent_sent: SentConsent  # MIMI consent requests sent (accord.storage.consent_sent_sql)

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
    async def add_key_packages(self, device_id: str, items: Sequence[bytes],
                               last_resort: bytes | None, refs: Sequence[bytes | None] = (),
                               cipher_suite: int = 1) -> int: ...
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
