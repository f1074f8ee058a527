"""Messages in the profile database: stored in the hub's delivery order, edited,
deleted, paged, searched (FTS5 inside the encrypted file) and expired."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from accord.client.store_db import Database
from accord.errors import NotFound


@dataclass(frozen=True, slots=True)
class StoredMessage:
    msg_id: bytes
    conv_id: str
    sender: str
    sender_device: str
    sent_at: int
    received_at: int
    kind: str
    body: str
    reply_to: bytes | None
    edited: bool
    deleted: bool
    expires_at: int | None
    meta: dict[str, Any]


class MessageTables(Database):
    def add_message(self, m: StoredMessage, *, seq: int | None = None) -> bool:
        """Store ``m``; False when a message with that id is already stored
        (duplicates are dropped, not errors: the network may redeliver).

        ``seq`` places the message in its conversation; by default it goes after
        every message already received (the hub's delivery order)."""
        with self.transaction() as db:
            if seq is None:
                seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages "
                                 "WHERE conv_id = ?", (m.conv_id,)).fetchone()[0]
            cur = db.execute(
                "INSERT INTO messages (msg_id, conv_id, sender, sender_device, sent_at, "
                "received_at, kind, body, reply_to, edited, deleted, expires_at, meta, seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (msg_id) DO NOTHING",
                (m.msg_id, m.conv_id, m.sender, m.sender_device, m.sent_at, m.received_at,
                 m.kind, m.body, m.reply_to, int(m.edited), int(m.deleted), m.expires_at,
                 json.dumps(m.meta), seq),
            )
            return bool(cur.rowcount == 1)

    def delete_messages(self, conv_id: str, kind: str) -> int:
        """Remove a conversation's messages of one kind (e.g. message-request previews)."""
        cur = self._conn().execute("DELETE FROM messages WHERE conv_id = ? AND kind = ?",
                                   (conv_id, kind))
        return int(cur.rowcount)

    def seqs(self, conv_id: str) -> dict[bytes, int]:
        """Each message's position in its conversation."""
        rows = self._conn().execute("SELECT msg_id, seq FROM messages WHERE conv_id = ?",
                                    (conv_id,)).fetchall()
        return {bytes(r[0]): int(r[1]) for r in rows}

    def first_seq(self, conv_id: str) -> int:
        """The lowest position in a conversation (imported history goes below it)."""
        row = self._conn().execute("SELECT COALESCE(MIN(seq), 1) FROM messages "
                                   "WHERE conv_id = ?", (conv_id,)).fetchone()
        return int(row[0])

    def edit_message(self, msg_id: bytes, body: str) -> None:
        self._conn().execute(
            "UPDATE messages SET body = ?, edited = 1 WHERE msg_id = ? AND deleted = 0",
            (body, msg_id))

    def delete_message(self, msg_id: bytes) -> None:
        """Erase the text (and so its index entry) but keep a tombstone row."""
        self._conn().execute(
            "UPDATE messages SET body = '', deleted = 1, meta = '{}' WHERE msg_id = ?", (msg_id,))

    def update_message_meta(self, msg_id: bytes, meta: dict[str, Any]) -> None:
        self._conn().execute(
            "UPDATE messages SET meta = ? WHERE msg_id = ?", (json.dumps(meta), msg_id))

    def message(self, msg_id: bytes) -> StoredMessage:
        row = self._conn().execute(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE msg_id = ?", (msg_id,)).fetchone()
        if row is None:
            raise NotFound(f"no message {msg_id.hex()}")
        return _message(row)

    def messages(self, conv_id: str, limit: int = 1000) -> list[StoredMessage]:
        rows = self._conn().execute(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE conv_id = ? "
            "ORDER BY seq, rowid LIMIT ?", (conv_id, limit)).fetchall()
        return [_message(r) for r in rows]

    def latest_messages(self, conv_id: str, limit: int, before_seq: int | None = None
                        ) -> list[tuple[int, StoredMessage]]:
        """The last ``limit`` messages (below position ``before_seq``), oldest first,
        each with its position: one page of a long conversation (the web app)."""
        rows = self._conn().execute(
            f"SELECT seq, {_MSG_COLUMNS} FROM messages WHERE conv_id = ? AND seq < ? "
            "ORDER BY seq DESC, rowid DESC LIMIT ?",
            (conv_id, before_seq if before_seq is not None else 1 << 62, limit)).fetchall()
        return [(int(r[0]), _message(r[1:])) for r in reversed(rows)]

    def search(self, query: str, *, sender: str | list[str] | None = None,
               conv_id: str | None = None, since: int | None = None,
               until: int | None = None, limit: int = 100) -> list[StoredMessage]:
        """Full-text search, newest first. Every word is a prefix (FTS5 ``"word"*``);
        FTS5 syntax is neutralised: words are matched as quoted terms, so user
        input cannot form FTS5 operators. ``sender``: one account or several."""
        terms = " ".join('"' + w.replace('"', '""') + '"*' for w in query.split())
        columns = ", ".join("m." + c.strip() for c in _MSG_COLUMNS.split(","))
        sql = (f"SELECT {columns} FROM messages_fts f "
               "JOIN messages m ON m.rowid = f.rowid WHERE m.deleted = 0")
        args: list[Any] = []
        if terms:
            sql += " AND messages_fts MATCH ?"
            args.append(terms)
        if sender is not None:
            senders = [sender] if isinstance(sender, str) else list(sender)
            sql += f" AND m.sender IN ({', '.join('?' * len(senders)) or 'NULL'})"
            args += senders
        for cond, value in (("m.conv_id = ?", conv_id),
                            ("m.sent_at >= ?", since), ("m.sent_at <= ?", until)):
            if value is not None:
                sql += f" AND {cond}"
                args.append(value)
        sql += " ORDER BY m.sent_at DESC, m.rowid DESC LIMIT ?"
        args.append(limit)
        return [_message(r) for r in self._conn().execute(sql, args).fetchall()]

    def activity(self, conv_id: str, me: str, after_seq: int) -> tuple[int, int, int]:
        """``(unread, last_activity, newest_seq)`` of a conversation: messages of
        others after position ``after_seq``, and the newest message or event time."""
        db = self._conn()
        unread = db.execute(
            "SELECT count(*) FROM messages WHERE conv_id = ? AND seq > ? AND sender != ? "
            "AND deleted = 0", (conv_id, after_seq, me)).fetchone()
        last = db.execute(
            "SELECT MAX(t) FROM (SELECT MAX(received_at) AS t FROM messages WHERE conv_id = ? "
            "UNION ALL SELECT MAX(at) FROM events WHERE conv_id = ?)",
            (conv_id, conv_id)).fetchone()
        newest = db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conv_id = ?",
                            (conv_id,)).fetchone()
        return int(unread[0]), int(last[0] or 0), int(newest[0])

    def expire_messages(self, now: int) -> int:
        """Remove every message whose disappearing timer has ended, and the reactions to
        it the index of MIMI IDs kept (their emoji); the message's own entry (its salt
        and MIMI ID, no content) stays, so that a redelivery of it stays one."""
        with self.transaction() as db:
            db.execute("DELETE FROM mimi_ids WHERE reaction_target IN (SELECT msg_id FROM "
                       "messages WHERE expires_at IS NOT NULL AND expires_at <= ?)", (now,))
            cur = db.execute(
                "DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
            return int(cur.rowcount)


_MSG_COLUMNS = ("msg_id, conv_id, sender, sender_device, sent_at, received_at, kind, body, "
                "reply_to, edited, deleted, expires_at, meta")


def _message(r: Any) -> StoredMessage:
    return StoredMessage(bytes(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                         None if r[8] is None else bytes(r[8]), bool(r[9]), bool(r[10]),
                         r[11], json.loads(r[12]))
