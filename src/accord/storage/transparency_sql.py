"""The provider store's key-transparency half (issue 7): the log, and device changes with it.

Tables (migration 100 of ``schema.py``):

- ``kt_entries``: the encoded log entries by position (``accord.transparency.entries``).
- ``kt_nodes``: the hash of every complete subtree, by ``(level, idx)``
  (``accord.transparency.store``); append-only, like the entries.
- ``kt_peer_heads``: the heads of peer providers this provider checked and
  countersigned (gossip), with its cosignature.

The rule of ``accord.transparency.store`` holds here: one append's entry
and nodes are written in one transaction, and that transaction is the one
that changes the account's device set, so the log and the ``devices``
table never disagree (a device exists exactly when the log says so).
Appends are serialized: SQLite by its writer lock (``BEGIN IMMEDIATE``),
PostgreSQL by a transaction-scoped advisory lock.

No identity is stored in the clear by these tables: an entry carries an
HMAC index and a commitment (``entries``), never the account name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from accord.errors import Conflict, NotFound
from accord.storage.engine import Engine, Tx
from accord.storage.records import DeviceRecord

KT_LOCK = 7305100  # PostgreSQL advisory lock id of the log's writer


@dataclass(frozen=True, slots=True)
class LogRows:
    """What a log append writes: entries (position, data) and nodes (level, idx, hash)."""

    entries: Sequence[tuple[int, bytes]]
    nodes: Sequence[tuple[int, int, bytes]]


@dataclass(frozen=True, slots=True)
class PeerHeadRow:
    peer: str
    size: int
    head: bytes
    cosignature: bytes
    seen_at: int


# Called inside the device change's transaction (locked log) with the account and its
# device keys after the change (empty and ``deleted`` for a removed account);
# returns the rows to write. Raising aborts the change.
Appender = Callable[[Tx, str, tuple[bytes, ...], bool], Awaitable[LogRows]]


async def lock_log(engine: Engine, tx: Tx) -> None:
    if engine.dialect.name == "postgresql":
        await tx.execute(f"SELECT pg_advisory_xact_lock({KT_LOCK})")


async def entry_count(tx: Tx) -> int:
    # Positions are contiguous from 0 (``load_entries`` checks): MAX reads one index entry
    # where COUNT(*) would scan the table.
    row = await tx.fetchone("SELECT MAX(position) FROM kt_entries")
    return 0 if row is None or row[0] is None else int(row[0]) + 1


async def load_entries(tx: Tx, start: int = 0) -> list[bytes]:
    rows = await tx.fetchall(
        "SELECT position, data FROM kt_entries WHERE position >= ? ORDER BY position", start
    )
    for expected, row in enumerate(rows, start):
        if int(row[0]) != expected:
            raise Conflict(f"the stored log has a gap at position {expected}")
    return [bytes(r[1]) for r in rows]


async def load_nodes(tx: Tx) -> list[tuple[int, int, bytes]]:
    rows = await tx.fetchall("SELECT level, idx, hash FROM kt_nodes ORDER BY level, idx")
    return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]


async def write_rows(tx: Tx, rows: LogRows) -> None:
    if rows.entries:
        await tx.executemany(
            "INSERT INTO kt_entries (position, data) VALUES (?, ?)", list(rows.entries)
        )
    if rows.nodes:
        # A complete subtree is written once; the same hash again is harmless.
        await tx.executemany(
            "INSERT INTO kt_nodes (level, idx, hash) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            list(rows.nodes),
        )


async def _device_keys(tx: Tx, account: str) -> tuple[bytes, ...]:
    rows = await tx.fetchall("SELECT signature_key FROM devices WHERE account = ?", account)
    return tuple(sorted(bytes(r[0]) for r in rows))


async def _insert_device(tx: Tx, device: DeviceRecord) -> None:
    n = await tx.execute(
        "INSERT INTO devices (device_id, account, signature_key, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        device.device_id, device.account, device.signature_key, device.created_at,
    )
    if n == 0:
        raise Conflict("this device signature key (or device id) is already registered")


async def create_account_logged(engine: Engine, device: DeviceRecord, append: Appender) -> None:
    """``Store.create_account`` plus the account's first log entry, in one transaction."""
    async with engine.transaction() as tx:
        await lock_log(engine, tx)
        n = await tx.execute(
            "INSERT INTO accounts (account, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            device.account, device.created_at,
        )
        if n == 0:
            raise Conflict(f"account {device.account} already exists")
        await _insert_device(tx, device)
        await write_rows(tx, await append(tx, device.account, await _device_keys(tx, device.account),
                                          False))


async def add_device_logged(engine: Engine, device: DeviceRecord, append: Appender) -> None:
    """``Store.add_device`` plus the account's new device set in the log."""
    async with engine.transaction() as tx:
        await lock_log(engine, tx)
        if not await tx.fetchone("SELECT 1 FROM accounts WHERE account = ?", device.account):
            raise NotFound(f"no account {device.account}")
        await _insert_device(tx, device)
        await write_rows(tx, await append(tx, device.account, await _device_keys(tx, device.account),
                                          False))


async def remove_device_logged(engine: Engine, device: DeviceRecord, append: Appender) -> None:
    """``Store.remove_device`` plus the account's new device set in the log."""
    async with engine.transaction() as tx:
        await lock_log(engine, tx)
        # Cascades remove its sessions, challenges, key packages and queue.
        if await tx.execute("DELETE FROM devices WHERE device_id = ?", device.device_id) == 0:
            raise NotFound("no such device")
        await write_rows(tx, await append(tx, device.account, await _device_keys(tx, device.account),
                                          False))


async def delete_account_logged(engine: Engine, account: str, append: Appender,
                                 erase: Callable[[Tx], Awaitable[None]]) -> None:
    """Account deletion (issue 11, T18) with its tombstone: ``erase`` runs in the same transaction."""
    async with engine.transaction() as tx:
        await lock_log(engine, tx)
        await erase(tx)
        await write_rows(tx, await append(tx, account, (), True))


async def put_peer_head(engine: Engine, row: PeerHeadRow) -> None:
    async with engine.transaction() as tx:
        await tx.execute(
            "INSERT INTO kt_peer_heads (peer, size, head, cosignature, seen_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            row.peer, row.size, row.head, row.cosignature, row.seen_at,
        )


async def latest_peer_head(engine: Engine, peer: str) -> PeerHeadRow | None:
    async with engine.transaction() as tx:
        r = await tx.fetchone(
            "SELECT peer, size, head, cosignature, seen_at FROM kt_peer_heads WHERE peer = ?"
            " ORDER BY size DESC, seen_at DESC LIMIT 1",
            peer,
        )
    if r is None:
        return None
    return PeerHeadRow(r[0], int(r[1]), bytes(r[2]), bytes(r[3]), int(r[4]))
