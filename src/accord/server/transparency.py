"""The provider's key transparency log (issue 7): persisted, signed, appended with every device change.

:class:`TransparencyLog` keeps an ``accord.transparency.KeyDirectory`` in
memory (the prefix map is derived state anyway) over node and entry stores
that record what each append adds; ``accord.storage.transparency_sql``
writes those rows in the transaction that changes the device set. If that
transaction fails, the directory is rebuilt from the store, so memory never
runs ahead of what was committed. Before answering, the log checks the
stored entry count and catches up when another node (PostgreSQL) appended.

Keys: heads are signed with the provider key; the index key (``entries``:
HMAC key of the pseudonymous index) is a second 32-byte secret. Both are the
provider's, the same on every node (``accord.federation.provider_key``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import ValidationError
from accord.federation.provider_key import ProviderKey
from accord.mls.codec import encode
from accord.storage import DeviceRecord
from accord.storage import transparency_sql as sql
from accord.storage.engine import Engine, Tx
from accord.transparency import (
    KeyDirectory,
    LookupProof,
    MapValue,
    MemoryEntryStore,
    MemoryNodeStore,
    SignedTreeHead,
    Succession,
    decode_entry,
    leaf_hash,
)

log = logging.getLogger("accord.server.transparency")
HEAD_MAX_AGE_MS = 60_000  # a head is re-signed at least this often, even with no change


class _RecordingNodes(MemoryNodeStore):
    """Memory nodes that remember what was put since the last :meth:`take`."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[int, int, bytes]] = []

    def put_node(self, level: int, index: int, value: bytes) -> None:
        super().put_node(level, index, value)
        self.pending.append((level, index, value))

    def take(self) -> list[tuple[int, int, bytes]]:
        out, self.pending = self.pending, []
        return out


class _RecordingEntries(MemoryEntryStore):
    __slots__ = ("pending",)

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[int, bytes]] = []

    def append_entry(self, position: int, data: bytes) -> None:
        super().append_entry(position, data)
        self.pending.append((position, data))

    def take(self) -> list[tuple[int, bytes]]:
        out, self.pending = self.pending, []
        return out


class TransparencyLog:
    def __init__(self, domain: str, engine: Engine, signing_key: ProviderKey,
                 index_key: bytes) -> None:
        self.domain = domain
        self.engine = engine
        self.key = signing_key
        self._index_key = index_key
        self._lock = asyncio.Lock()
        self._head: SignedTreeHead | None = None
        self.directory = self._empty()

    def __repr__(self) -> str:
        return f"TransparencyLog({self.domain!r}, size={self.directory.size})"

    def _empty(self) -> KeyDirectory:
        self._nodes, self._entries = _RecordingNodes(), _RecordingEntries()
        return KeyDirectory(self.domain, self._index_key, self._nodes, self._entries)

    # loading ---------------------------------------------------------------------

    async def _reload(self, tx: Tx) -> None:
        self._nodes, self._entries = _RecordingNodes(), _RecordingEntries()
        for position, data in enumerate(await sql.load_entries(tx)):
            MemoryEntryStore.append_entry(self._entries, position, data)
        for level, idx, value in await sql.load_nodes(tx):
            MemoryNodeStore.put_node(self._nodes, level, idx, value)
        self.directory = KeyDirectory(self.domain, self._index_key, self._nodes, self._entries)
        self._head = None

    async def reload(self) -> None:
        async with self.engine.read() as tx:
            await self._reload(tx)

    async def _catch_up(self, tx: Tx) -> None:
        """Apply entries another node appended; a full reload only if the store is not ahead."""
        count = await sql.entry_count(tx)
        size = self.directory.size
        if count == size:
            return
        if count < size:
            await self._reload(tx)
            return
        for position, data in enumerate(await sql.load_entries(tx, size), size):
            # The same steps as KeyDirectory's append, for an entry already stored.
            MemoryEntryStore.append_entry(self._entries, position, data)
            h = leaf_hash(data)
            self.directory.log.append_hash(h)
            index = decode_entry(data).index
            self.directory.map.set(index, encode(MapValue, MapValue(position, h)))
        self._entries.take(), self._nodes.take()  # their nodes are stored already
        self._head = None

    async def _refresh(self) -> None:
        """Catch up with appends made by another node (hold ``_lock``)."""
        async with self.engine.read() as tx:
            await self._catch_up(tx)

    async def backfill(self, now: int) -> int:
        """Log the device sets of accounts that predate the log (an upgrade); how many."""
        async with self._lock:
            async with self.engine.transaction() as tx:
                await sql.lock_log(self.engine, tx)
                await self._reload(tx)
                rows = await tx.fetchall(
                    "SELECT account, signature_key FROM devices ORDER BY account")
                sets: dict[str, list[bytes]] = {}
                for account, key in rows:
                    sets.setdefault(account, []).append(bytes(key))
                missing = [a for a in sorted(sets) if self.directory.current(a) is None]
                for account in missing:
                    self.directory.publish(account, sets[account], now)
                await sql.write_rows(tx, sql.LogRows(self._entries.take(), self._nodes.take()))
            return len(missing)

    # appends, each in the transaction of its device change ------------------------

    def _appender(self, now: int, succession: Succession | None = None) -> sql.Appender:
        async def append(tx: Tx, account: str, keys: tuple[bytes, ...],
                         deleted: bool) -> sql.LogRows:
            await self._catch_up(tx)
            self._entries.take(), self._nodes.take()
            if deleted:
                self.directory.delete(account, now)
            else:
                self.directory.publish(account, keys, now, succession)
            return sql.LogRows(self._entries.take(), self._nodes.take())

        return append

    async def _logged(self, op: Any, now: int, *args: Any) -> None:
        async with self._lock:
            try:
                await op(self.engine, *args)
            except BaseException:
                # The append may have reached memory but not the store.
                await self.reload()
                raise
            self._head = None
            self.signed_head(now)

    async def create_account(self, device: DeviceRecord, now: int) -> None:
        await self._logged(sql.create_account_logged, now, device, self._appender(now))

    async def add_device(self, device: DeviceRecord, now: int,
                         succession: Succession | None = None) -> None:
        await self._logged(sql.add_device_logged, now, device,
                           self._appender(now, succession))

    async def remove_device(self, device: DeviceRecord, now: int) -> None:
        await self._logged(sql.remove_device_logged, now, device, self._appender(now))

    async def delete_account(self, account: str, erase: Any, now: int) -> None:
        """For account deletion (issue 11): ``erase(tx)`` runs with the tombstone's append."""
        await self._logged(sql.delete_account_logged, now, account, self._appender(now), erase)

    # reads -------------------------------------------------------------------------

    def signed_head(self, now: int) -> SignedTreeHead:
        head = self._head
        if (head is None or head.head.size != self.directory.size
                or now - head.head.timestamp >= HEAD_MAX_AGE_MS or now < head.head.timestamp):
            # ProviderKey exposes only sign(); that is all sign_head uses.
            head = self.directory.signed_head(cast(Ed25519PrivateKey, self.key), now)
            self._head = head
        return head

    # Reads hold the lock too: an append in flight is in memory before it is
    # committed, and nothing uncommitted may be served.

    def published_head(self) -> SignedTreeHead | None:
        """The last head signed over committed entries (for ``/.well-known/accord``)."""
        return self._head

    async def current_head(self, now: int) -> SignedTreeHead:
        async with self._lock:
            await self._refresh()
            return self.signed_head(now)

    async def lookup(self, account: str, now: int) -> tuple[SignedTreeHead, LookupProof]:
        """The head and the lookup proof at that head."""
        async with self._lock:
            await self._refresh()
            return self.signed_head(now), self.directory.lookup(account)

    async def consistency(self, old: int, new: int) -> tuple[bytes, ...]:
        async with self._lock:
            await self._refresh()
            if not 0 <= old <= new <= self.directory.size:
                raise ValidationError(
                    f"sizes must satisfy 0 <= old <= new <= {self.directory.size}")
            return self.directory.consistency_proof(old, new)


async def open_log(domain: str, engine: Engine, signing_key: ProviderKey, index_key: bytes,
                   now: int) -> TransparencyLog:
    kt = TransparencyLog(domain, engine, signing_key, index_key)
    added = await kt.backfill(now)
    kt.signed_head(now)
    if added:
        log.info("transparency log: %d existing accounts logged", added)
    return kt


# The hooks the accounts service calls: every device-set change goes through
# the log when the provider runs one (the plain store call otherwise).

async def create_account(p: Any, device: DeviceRecord, now: int) -> None:
    kt: TransparencyLog | None = getattr(p, "transparency", None)
    await (p.store.create_account(device) if kt is None else kt.create_account(device, now))


async def add_device(p: Any, device: DeviceRecord, now: int,
                     succession: Succession | None = None) -> None:
    """``succession``: the device takes the place of the one that signed it (issue 19)."""
    kt: TransparencyLog | None = getattr(p, "transparency", None)
    await (p.store.add_device(device) if kt is None
           else kt.add_device(device, now, succession))


async def remove_device(p: Any, device: DeviceRecord, now: int) -> None:
    kt: TransparencyLog | None = getattr(p, "transparency", None)
    await (p.store.remove_device(device.device_id) if kt is None
           else kt.remove_device(device, now))


def well_known_head(p: Any) -> bytes | None:
    """The encoded head for ``/.well-known/accord`` (None without a log)."""
    kt: TransparencyLog | None = getattr(p, "transparency", None)
    head = None if kt is None else kt.published_head()
    return None if head is None else encode(SignedTreeHead, head)
