"""The provider store over a SQL :class:`~accord.storage.engine.Engine`.

All of the provider's SQL is here and in ``schema.py``; both engines run the
same statements through the dialect layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from accord.errors import Conflict, NotFound
from accord.storage import areas
from accord.storage.blob_files import blob_path, unlink_blobs, write_blob
from accord.storage.consent_sent_sql import SentConsent
from accord.storage.engine import Engine, Tx
from accord.storage.fanout_sql import read_group
from accord.storage.federation_sql import FederationSqlMixin
from accord.storage.hub_sql import HubSqlMixin
from accord.storage.mimi_follow_sql import MimiFollowSqlMixin
from accord.storage.post_batch import PostWriter
from accord.storage.records import (
    ClaimedKeyPackage,
    DeviceRecord,
    GroupRecord,
    KeyPackageStatus,
    QueueItem,
)
from accord.storage.schema import migrate

_DEVICE_COLS = "device_id, account, signature_key, created_at"


class SqlStore(HubSqlMixin, FederationSqlMixin, MimiFollowSqlMixin):
    """Implements :class:`accord.storage.interface.Store`.

    ``blob_dir`` keeps blob bytes as files (the embedded default); without it
    they go to the ``blob_data`` table (PostgreSQL, shared by several nodes).
    """

    def __init__(self, engine: Engine, blob_dir: Path | None = None) -> None:
        self.engine = engine
        self.blob_dir = blob_dir
        self.posts = PostWriter(engine)  # group commit of posts (issue 23)
        self.reports = areas.Reports(engine)
        self.admin = areas.Admin(engine)
        self.backups = areas.Backups(engine)
        self.rendezvous = areas.Rendezvous(engine)
        self.franking = areas.Franking(engine)
        self.peer_heads = areas.PeerHeads(engine)
        self.accounts = areas.Accounts(engine)
        self.secrets = areas.Secrets(engine)
        self.consent_sent = SentConsent(engine)

    async def open(self) -> SqlStore:
        await self.engine.open()
        await migrate(self.engine)
        return self

    async def close(self) -> None:
        await self.posts.close()
        await self.engine.close()

    async def ping(self) -> None:
        """One round trip to the database (a node's readiness, ``accord.server.health``)."""
        async with self.engine.read() as tx:
            await tx.fetchone("SELECT 1")

    # accounts and devices -------------------------------------------------

    async def create_account(self, device: DeviceRecord) -> None:
        async with self.engine.transaction() as tx:
            n = await tx.execute(
                "INSERT INTO accounts (account, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                device.account,
                device.created_at,
            )
            if n == 0:
                raise Conflict(f"account {device.account} already exists")
            await self._insert_device(tx, device)

    async def add_device(self, device: DeviceRecord) -> None:
        async with self.engine.transaction() as tx:
            if not await tx.fetchone(
                "SELECT 1 FROM accounts WHERE account = ?", device.account
            ):
                raise NotFound(f"no account {device.account}")
            await self._insert_device(tx, device)

    @staticmethod
    async def _insert_device(tx: Tx, device: DeviceRecord) -> None:
        n = await tx.execute(
            f"INSERT INTO devices ({_DEVICE_COLS}) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            device.device_id,
            device.account,
            device.signature_key,
            device.created_at,
        )
        if n == 0:
            raise Conflict("this device signature key (or device id) is already registered")

    async def get_device(self, device_id: str) -> DeviceRecord:
        async with self.engine.read() as tx:
            row = await tx.fetchone(
                f"SELECT {_DEVICE_COLS} FROM devices WHERE device_id = ?", device_id
            )
        if row is None:
            raise NotFound("no such device")
        return DeviceRecord(row[0], row[1], bytes(row[2]), int(row[3]))

    async def list_devices(self, account: str) -> list[DeviceRecord]:
        async with self.engine.read() as tx:
            if not await tx.fetchone("SELECT 1 FROM accounts WHERE account = ?", account):
                raise NotFound(f"no account {account}")
            rows = await tx.fetchall(
                f"SELECT {_DEVICE_COLS} FROM devices WHERE account = ? ORDER BY created_at,"
                " device_id",
                account,
            )
        return [DeviceRecord(r[0], r[1], bytes(r[2]), int(r[3])) for r in rows]

    async def remove_device(self, device_id: str) -> None:
        async with self.engine.transaction() as tx:
            # Cascades remove its sessions, challenges, key packages and queue.
            if await tx.execute("DELETE FROM devices WHERE device_id = ?", device_id) == 0:
                raise NotFound("no such device")

    async def put_challenge(self, nonce: bytes, device_id: str, expires_at: int) -> None:
        """Keep a login nonce for ``device_id``; for an unknown device, nothing, by the
        same single statement (no separate lookup an observer could time, issue 17)."""
        async with self.engine.transaction() as tx:
            await tx.execute(
                "INSERT INTO challenges (nonce, device_id, expires_at)"
                " SELECT ?, device_id, ? FROM devices WHERE device_id = ?",
                nonce,
                expires_at,
                device_id,
            )

    async def take_challenge(self, nonce: bytes) -> tuple[str, int]:
        # Deleting while reading makes every challenge single-use.
        async with self.engine.transaction() as tx:
            row = await tx.fetchone(
                "DELETE FROM challenges WHERE nonce = ? RETURNING device_id, expires_at", nonce
            )
        if row is None:
            raise NotFound("unknown or already used challenge")
        return row[0], int(row[1])

    async def put_session(self, token_hash: bytes, device_id: str, expires_at: int) -> None:
        async with self.engine.transaction() as tx:
            await tx.execute(
                "INSERT INTO sessions (token_hash, device_id, expires_at) VALUES (?, ?, ?)",
                token_hash,
                device_id,
                expires_at,
            )

    async def get_session(self, token_hash: bytes) -> tuple[str, int]:
        async with self.engine.read() as tx:
            row = await tx.fetchone(
                "SELECT device_id, expires_at FROM sessions WHERE token_hash = ?", token_hash
            )
        if row is None:
            raise NotFound("unknown session")
        return row[0], int(row[1])

    # key packages -----------------------------------------------------------

    async def add_key_packages(
        self,
        device_id: str,
        items: Sequence[bytes],
        last_resort: bytes | None,
        refs: Sequence[bytes | None] = (),
        cipher_suite: int = 1,
    ) -> int:
        """Store a batch of one cipher suite; the device's count in that suite after."""
        refs = list(refs) or [None] * len(items)
        async with self.engine.transaction() as tx:
            if items:
                await tx.executemany(
                    "INSERT INTO key_packages (device_id, data, kp_ref, cipher_suite)"
                    " VALUES (?, ?, ?, ?)",
                    [(device_id, item, ref, cipher_suite)
                     for item, ref in zip(items, refs, strict=True)],
                )
            if last_resort is not None:
                await tx.execute(
                    # A new last-resort KeyPackage is a rotation: unused, nothing withheld.
                    "INSERT INTO last_resort_key_packages (device_id, cipher_suite, data)"
                    " VALUES (?, ?, ?) ON CONFLICT (device_id, cipher_suite)"
                    " DO UPDATE SET data = excluded.data, used_at = NULL, withheld = 0",
                    device_id,
                    cipher_suite,
                    last_resort,
                )
            row = await tx.fetchone(
                "SELECT COUNT(*) FROM key_packages WHERE device_id = ? AND cipher_suite = ?",
                device_id, cipher_suite,
            )
        return int(row[0]) if row else 0

    async def count_key_packages(self, device_id: str, cipher_suite: int = 1
                                 ) -> tuple[int, bool]:
        async with self.engine.read() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) FROM key_packages WHERE device_id = ? AND cipher_suite = ?",
                device_id, cipher_suite,
            )
            lr = await tx.fetchone(
                "SELECT 1 FROM last_resort_key_packages WHERE device_id = ? AND cipher_suite = ?",
                device_id, cipher_suite,
            )
        return (int(row[0]) if row else 0), lr is not None

    async def key_package_status(self, device_id: str, cipher_suite: int = 1
                                 ) -> KeyPackageStatus:
        count, _ = await self.count_key_packages(device_id, cipher_suite)
        async with self.engine.read() as tx:
            lr = await tx.fetchone(
                "SELECT used_at, withheld FROM last_resort_key_packages"
                " WHERE device_id = ? AND cipher_suite = ?",
                device_id, cipher_suite,
            )
        if lr is None:
            return KeyPackageStatus(count, False, False, 0)
        return KeyPackageStatus(count, True, lr[0] is not None, int(lr[1]))

    async def claim_key_packages(self, account: str, cipher_suite: int = 1, now: int = 0,
                                 one_time: bool = True) -> list[ClaimedKeyPackage]:
        """One KeyPackage of ``cipher_suite`` per device of ``account`` that has one: a
        one-time one (deleted) when ``one_time`` and one is left, else the device's
        last-resort one, which is then marked used (RFC 9420 16.8)."""
        claimed: list[ClaimedKeyPackage] = []
        async with self.engine.transaction() as tx:
            devices = await tx.fetchall(
                "SELECT device_id FROM devices WHERE account = ? ORDER BY device_id", account
            )
            if not devices:
                raise NotFound(f"no account {account}")
            for (device_id,) in devices:
                row = None
                if one_time:
                    row = await tx.fetchone(
                        "DELETE FROM key_packages WHERE id = (SELECT id FROM key_packages"
                        " WHERE device_id = ? AND cipher_suite = ? ORDER BY id LIMIT 1"
                        " {SKIP_LOCKED}) RETURNING data",
                        device_id, cipher_suite,
                    )
                if row is not None:
                    claimed.append(ClaimedKeyPackage(device_id, bytes(row[0]), False))
                    continue
                row = await tx.fetchone(
                    "UPDATE last_resort_key_packages SET used_at = ?, withheld = withheld + ?"
                    " WHERE device_id = ? AND cipher_suite = ? RETURNING data",
                    now, 0 if one_time else 1, device_id, cipher_suite,
                )
                if row is not None:
                    claimed.append(ClaimedKeyPackage(device_id, bytes(row[0]), True))
        return claimed

    # groups and delivery -------------------------------------------------------

    async def create_group(
        self, group_id: bytes, hub: str, creator: str, posting_key: bytes, now: int,
        public_state: bytes,
    ) -> GroupRecord:
        """A group hubbed here, with its creator and the public MLS state of its epoch 0
        (``accord.mls.group.public``, checked by the caller)."""
        async with self.engine.transaction() as tx:
            n = await tx.execute(
                "INSERT INTO mls_groups (group_id, hub, epoch, created_at, updated_at)"
                " VALUES (?, ?, 0, ?, ?) ON CONFLICT DO NOTHING",
                group_id,
                hub,
                now,
                now,
            )
            if n == 0:
                raise Conflict("a group with this id already exists")
            # RFC 9420 11: the creator is the group's only member, at leaf 0.
            await tx.execute(
                "INSERT INTO group_members (group_id, device_id, leaf_index) VALUES (?, ?, 0)",
                group_id,
                creator,
            )
            await tx.execute(
                "INSERT INTO posting_keys (group_id, epoch, public_key) VALUES (?, 0, ?)",
                group_id,
                posting_key,
            )
            await tx.execute(
                "INSERT INTO hub_public_state (group_id, epoch, state) VALUES (?, 0, ?)",
                group_id, public_state,
            )
        return GroupRecord(group_id, hub, 0, (creator,), (0,))

    async def get_group(self, group_id: bytes) -> GroupRecord:
        async with self.engine.read() as tx:
            return await self._group(tx, group_id, lock=False)

    @staticmethod
    async def _group(tx: Tx, group_id: bytes, lock: bool) -> GroupRecord:
        return await read_group(tx, group_id, lock)

    async def fetch_queue(self, device_id: str, after: int, limit: int) -> list[QueueItem]:
        async with self.engine.read() as tx:
            rows = await tx.fetchall(
                "SELECT q.seq, m.msg_id, m.kind, m.group_id, m.epoch, m.sender, m.body,"
                " m.created_at FROM queue q JOIN messages m ON m.msg_id = q.msg_id"
                " WHERE q.device_id = ? AND q.seq > ? ORDER BY q.seq LIMIT ?",
                device_id,
                after,
                limit,
            )
        return [
            QueueItem(
                r[1],
                r[2],
                None if r[3] is None else bytes(r[3]),
                None if r[4] is None else int(r[4]),
                r[5],
                bytes(r[6]),
                int(r[7]),
                seq=int(r[0]),
            )
            for r in rows
        ]

    async def ack_queue(self, device_id: str, up_to: int) -> int:
        async with self.engine.transaction() as tx:
            return await tx.execute(
                "DELETE FROM queue WHERE device_id = ? AND seq <= ?", device_id, up_to
            )

    async def purge(self, now: int, message_cutoff: int, blob_cutoff: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        async with self.engine.transaction() as tx:
            counts["queue"] = await tx.execute(
                "DELETE FROM queue WHERE msg_id IN"
                " (SELECT msg_id FROM messages WHERE created_at < ?)",
                message_cutoff,
            )
            # A message nobody still has to fetch is gone for good.
            counts["messages"] = await tx.execute(
                "DELETE FROM messages WHERE created_at < ? OR NOT EXISTS"
                " (SELECT 1 FROM queue q WHERE q.msg_id = messages.msg_id)",
                message_cutoff,
            )
            counts["nonces"] = await tx.execute(
                "DELETE FROM post_nonces WHERE expires_at < ?", now
            )
            counts["sessions"] = await tx.execute("DELETE FROM sessions WHERE expires_at < ?", now)
            counts["challenges"] = await tx.execute(
                "DELETE FROM challenges WHERE expires_at < ?", now
            )
            counts["blobs"] = await tx.execute(
                "DELETE FROM blobs WHERE created_at < ?", blob_cutoff
            )
            orphans = await tx.fetchall(
                "SELECT sha256 FROM blob_data WHERE NOT EXISTS"
                " (SELECT 1 FROM blobs b WHERE b.sha256 = blob_data.sha256)"
            )
            await tx.execute(
                "DELETE FROM blob_data WHERE NOT EXISTS"
                " (SELECT 1 FROM blobs b WHERE b.sha256 = blob_data.sha256)"
            )
        if self.blob_dir is not None:
            await asyncio.to_thread(unlink_blobs, self.blob_dir, [bytes(r[0]) for r in orphans])
        return counts

    # blobs ---------------------------------------------------------------------

    async def put_blob(self, cap_hash: bytes, sha256: bytes, data: bytes, now: int) -> None:
        if self.blob_dir is not None:
            await asyncio.to_thread(write_blob, self.blob_dir, sha256, data)
        async with self.engine.transaction() as tx:
            # The blob_data row marks the content as present in both modes, so
            # purge can find orphans the same way; in file mode it holds no bytes.
            await tx.execute(
                "INSERT INTO blob_data (sha256, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
                sha256,
                b"" if self.blob_dir is not None else data,
            )
            await tx.execute(
                "INSERT INTO blobs (cap_hash, sha256, size, created_at) VALUES (?, ?, ?, ?)",
                cap_hash,
                sha256,
                len(data),
                now,
            )

    async def get_blob(self, cap_hash: bytes) -> bytes:
        async with self.engine.read() as tx:
            row = await tx.fetchone(
                "SELECT b.sha256, d.data FROM blobs b JOIN blob_data d ON d.sha256 = b.sha256"
                " WHERE b.cap_hash = ?",
                cap_hash,
            )
        if row is None:
            raise NotFound("no such blob")
        if self.blob_dir is None:
            return bytes(row[1])
        return await asyncio.to_thread(blob_path(self.blob_dir, bytes(row[0])).read_bytes)
