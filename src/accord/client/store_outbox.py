"""The outbox in the profile database (issue 19): what this device sends, kept
(encrypted with the profile) until its provider took it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from accord.client.store_db import Database


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A content this device sends, kept until the provider took it (issue 19).
    ``state``: pending (retried), held (waits for the person: a key change), failed
    (final). ``confirmed``: the accounts whose key changes the person accepted."""

    msg_id: bytes
    conv_id: str
    kind: str
    plaintext: bytes
    created_at: int
    attempts: int
    next_at: int
    state: str
    error: str
    confirmed: frozenset[str]


class OutboxTables(Database):
    def outbox_add(self, item: OutboxItem) -> None:
        self._conn().execute(
            "INSERT INTO outbox (msg_id, conv_id, kind, plaintext, created_at, "
            "attempts, next_at, state, error, confirmed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item.msg_id, item.conv_id, item.kind, item.plaintext, item.created_at, item.attempts, item.next_at, item.state, item.error,
             json.dumps(sorted(item.confirmed))))

    def outbox(self, conv_id: str | None = None) -> list[OutboxItem]:
        """Every item not yet delivered (pending, held or failed), oldest first."""
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox"
        args: tuple[Any, ...] = ()
        if conv_id is not None:
            sql, args = sql + " WHERE conv_id = ?", (conv_id,)
        return [_outbox_item(r) for r in self._conn().execute(sql + " ORDER BY id", args)]

    def outbox_item(self, msg_id: bytes) -> OutboxItem | None:
        row = self._conn().execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE msg_id = ?",
                                   (msg_id,)).fetchone()
        return None if row is None else _outbox_item(row)

    def outbox_update(self, msg_id: bytes, *, attempts: int, next_at: int, state: str,
                      error: str) -> None:
        self._conn().execute(
            "UPDATE outbox SET attempts = ?, next_at = ?, state = ?, error = ? WHERE msg_id = ?",
            (attempts, next_at, state, error, msg_id))

    def outbox_remove(self, msg_id: bytes) -> None:
        self._conn().execute("DELETE FROM outbox WHERE msg_id = ?", (msg_id,))


_OUTBOX_COLUMNS = ("msg_id, conv_id, kind, plaintext, created_at, attempts, "
                   "next_at, state, error, confirmed")


def _outbox_item(r: Any) -> OutboxItem:
    return OutboxItem(bytes(r[0]), r[1], r[2], bytes(r[3]), r[4], r[5], r[6], r[7],
                      r[8], frozenset(json.loads(r[9])))
