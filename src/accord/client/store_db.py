"""The open profile database (SQLCipher): its connection, transactions and the
migrations that create its tables, applied in order (``PRAGMA user_version``).

``Database`` is the base of :class:`accord.client.store.ProfileStore` and of its
table modules (``store_messages``, ``store_outbox``), in the manner of Synapse's
storage classes: one object, each group of tables in a module of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlcipher3

from accord.errors import AccordError


class ProfileLocked(AccordError):
    code = "profile_locked"


class ProfileUnavailable(AccordError):
    """The profile could not be written: the disk is full, the file is locked by another
    program, or it is damaged. The step that failed was rolled back whole, so nothing
    received was acknowledged and nothing half-sent was recorded; run again once the
    cause is gone. Never a reason to skip a queue item (``client.inbox``)."""

    code = "profile_unavailable"


def _unavailable(exc: BaseException) -> ProfileUnavailable | None:
    if isinstance(exc, sqlcipher3.OperationalError) or type(exc) is sqlcipher3.DatabaseError:
        why = str(exc)
        if "full" in why:
            why = "the disk is full"
        elif "locked" in why or "busy" in why:
            why = "another program holds the profile"
        else:
            why = "the profile could not be read or written"
        return ProfileUnavailable(f"{why}; nothing of this step was kept, try again later")
    return None


MIGRATIONS: list[str] = [
    # v1
    """
    CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE groups (
        group_id BLOB PRIMARY KEY, state BLOB NOT NULL, updated_at INTEGER NOT NULL);
    CREATE TABLE conversations (
        conv_id TEXT PRIMARY KEY, group_id BLOB UNIQUE, name TEXT NOT NULL,
        kind TEXT NOT NULL, created_at INTEGER NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
    CREATE TABLE messages (
        rowid INTEGER PRIMARY KEY,
        msg_id BLOB NOT NULL UNIQUE, conv_id TEXT NOT NULL, sender TEXT NOT NULL,
        sender_device TEXT NOT NULL, sent_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
        kind TEXT NOT NULL, body TEXT NOT NULL, reply_to BLOB, edited INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0, expires_at INTEGER, meta TEXT NOT NULL DEFAULT '{}');
    CREATE INDEX messages_conv ON messages (conv_id, sent_at);
    CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
    CREATE VIRTUAL TABLE messages_fts USING fts5 (
        body, content='messages', content_rowid='rowid', tokenize='unicode61');
    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body); END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    END;
    CREATE TRIGGER messages_au AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
        INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
    END;
    CREATE TABLE contacts (
        identity TEXT PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'known', verified_fingerprint BLOB,
        meta TEXT NOT NULL DEFAULT '{}');
    CREATE TABLE events (
        id INTEGER PRIMARY KEY, conv_id TEXT NOT NULL, at INTEGER NOT NULL,
        kind TEXT NOT NULL, detail TEXT NOT NULL);
    CREATE INDEX events_conv ON events (conv_id, at);
    """,
    # v2: the order a conversation is shown in is the order this device received
    # its messages from the hub (per conversation), never the senders' clocks: a
    # reply cannot show above what it answers because a sender's clock is behind.
    """
    ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET seq = rowid;
    CREATE INDEX messages_conv_seq ON messages (conv_id, seq);
    """,
    # v3: an event (a member added, a key update...) is placed after the messages
    # received before it, by position rather than by clock.
    """
    ALTER TABLE events ADD COLUMN after_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE events SET after_seq = (SELECT COALESCE(MAX(m.seq), 0) FROM messages m
        WHERE m.conv_id = events.conv_id AND m.received_at <= events.at);
    """,
    # v4: the outbox (issue 19): what this device sends is kept here, encrypted with
    # the profile, until the provider took it; the padded content (not a ciphertext:
    # every attempt encrypts anew, never reusing an MLS generation).
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY, msg_id BLOB NOT NULL UNIQUE, conv_id TEXT NOT NULL,
        kind TEXT NOT NULL, plaintext BLOB NOT NULL, commitment BLOB NOT NULL,
        created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
        error TEXT NOT NULL DEFAULT '', confirmed TEXT NOT NULL DEFAULT '[]');
    CREATE INDEX outbox_conv ON outbox (conv_id, id);
    """,
    # v5: the per-conversation index of MIMI message IDs (issue 22, store_mimi)
    """
    CREATE TABLE mimi_ids (
        mimi_id BLOB PRIMARY KEY, conv_id TEXT NOT NULL, accord_id BLOB NOT NULL,
        sender TEXT NOT NULL, reaction_target BLOB, reaction_emoji TEXT,
        UNIQUE (conv_id, accord_id));
    CREATE INDEX mimi_ids_reactions ON mimi_ids (conv_id, sender, reaction_target,
        reaction_emoji) WHERE reaction_target IS NOT NULL;
    """,
    # v6: the outbox keeps no franking commitment: the franking tag of the Safe AAD is
    # computed from the content's salt and bytes at every attempt (issue 22)
    """
    ALTER TABLE outbox DROP COLUMN commitment;
    """,
]


class Database:
    """The connection of an unlocked profile (``None`` while locked)."""

    _db: Any = None

    def _conn(self) -> Any:
        if self._db is None:
            raise ProfileLocked("the profile is locked; unlock it with its passphrase")
        return self._db

    def _migrate(self) -> None:
        db = self._conn()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                run_script(db, script)
                db.execute(f"PRAGMA user_version = {i}")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        db = self._conn()
        if db.in_transaction:
            yield db
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                # SQLite has already rolled back the whole transaction after some errors
                # (SQLITE_FULL, SQLITE_IOERR): a second ROLLBACK would hide the first.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except (sqlcipher3.OperationalError, sqlcipher3.DatabaseError) as exc:
            typed = _unavailable(exc)
            if typed is None:
                raise
            raise typed from exc


    @contextmanager
    def savepoint(self) -> Iterator[Any]:
        """One step inside the open transaction that fails alone: a typed error in it undoes
        only it. A failure of the profile itself (a full disk) goes on to the transaction,
        which undoes all of it (``transaction``)."""
        db = self._conn()
        if not db.in_transaction:
            raise RuntimeError("a savepoint needs an open transaction")
        db.execute("SAVEPOINT step")
        try:
            yield db
        except ProfileUnavailable:
            raise
        except AccordError:
            db.execute("ROLLBACK TO step")
            db.execute("RELEASE step")
            raise
        db.execute("RELEASE step")


def run_script(db: Any, script: str) -> None:
    # executescript would COMMIT the open transaction; run statement by statement
    # so a failed migration rolls back whole. Triggers contain ';' inside
    # BEGIN ... END, so split with sqlite's own completeness check.
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlcipher3.complete_statement(buf):
            if buf.strip():
                db.execute(buf)
            buf = ""
    if buf.strip():
        db.execute(buf)
