"""The provider's store: one narrow interface (:class:`Store`), SQLite and PostgreSQL engines."""

from __future__ import annotations

from pathlib import Path

from accord.storage.engine import PostgresEngine, SqliteEngine, unavailable_errors
from accord.storage.interface import EpochConflict, Store
from accord.storage.records import (
    ClaimedKeyPackage,
    CommitChange,
    DeviceRecord,
    GroupRecord,
    KeyPackageStatus,
    NewMessage,
    QueueItem,
)
from accord.storage.sql_store import SqlStore

__all__ = [
    "ClaimedKeyPackage",
    "KeyPackageStatus",
    "CommitChange",
    "DeviceRecord",
    "EpochConflict",
    "GroupRecord",
    "NewMessage",
    "QueueItem",
    "SqlStore",
    "Store",
    "open_store",
    "unavailable_errors",
]


async def open_store(data_dir: Path, database: str | None = None) -> SqlStore:
    """Open (and migrate) the store: SQLite under ``data_dir`` unless ``database`` is a PG URL."""
    if database:
        if not database.startswith(("postgresql://", "postgres://")):
            raise ValueError("--database takes a postgresql:// URL")
        return await SqlStore(PostgresEngine(database)).open()
    return await SqlStore(SqliteEngine(data_dir / "provider.sqlite3"), data_dir / "blobs").open()
