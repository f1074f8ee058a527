"""The device's own encrypted database (SQLCipher), under its profile folder.

A profile folder holds two files:

- ``profile.json``: the format version and the Argon2id parameters and salt
  used to turn the passphrase into the database key. Nothing secret.
- ``profile.db``: a SQLCipher database (AES-256 pages with HMAC) holding the
  device keys, MLS group states, messages with a full-text index (FTS5 lives
  inside the encrypted file, so the index is encrypted too), contacts,
  conversation events and settings.

The key is derived with Argon2id (RFC 9106) and handed to SQLCipher as a raw
key, so SQLCipher's own PBKDF2 step is skipped. A wrong passphrase fails on
the first page's HMAC and is reported as ``WrongPassphrase``. ``lock()``
closes the database and drops the key; ``unlock()`` derives it again.

This module is the only place that writes the client's SQL; the provider's
storage is a different package (``accord.storage``) and shares nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from argon2.low_level import Type, hash_secret_raw

from accord.errors import AccordError, AuthError, NotFound
from accord.private_files import private_database, private_file, private_folder, write_private

FORMAT_VERSION = 1
DB_NAME = "profile.db"
META_NAME = "profile.json"


class WrongPassphrase(AuthError):
    code = "wrong_passphrase"


class ProfileLocked(AccordError):
    code = "profile_locked"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost. The default follows RFC 9106's second recommended
    option (64 MiB, 3 passes); tests use a cheaper one."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1


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


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A content this device sends, kept until the provider took it (issue 19).
    ``state``: pending (retried), held (waits for the person: a key change), failed
    (final). ``confirmed``: the accounts whose key changes the person accepted."""

    msg_id: bytes
    conv_id: str
    kind: str
    plaintext: bytes
    commitment: bytes
    created_at: int
    attempts: int
    next_at: int
    state: str
    error: str
    confirmed: frozenset[str]


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
]


def derive_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    return hash_secret_raw(
        passphrase.encode(),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
    )


class ProfileStore:
    """An open (or locked) device profile. Not thread-safe; one per process."""

    def __init__(self, folder: Path, params: KdfParams, salt: bytes) -> None:
        self.folder = folder
        self._params = params
        self._salt = salt
        self._db: Any = None

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def create(cls, folder: Path, passphrase: str, params: KdfParams | None = None) -> ProfileStore:
        private_folder(folder)
        if (folder / META_NAME).exists():
            raise AccordError(f"a profile already exists in {folder}")
        params = params or KdfParams()
        salt = secrets.token_bytes(16)
        meta = {
            "format": FORMAT_VERSION,
            "kdf": "argon2id",
            "salt": salt.hex(),
            "time_cost": params.time_cost,
            "memory_kib": params.memory_kib,
            "parallelism": params.parallelism,
        }
        write_private(folder / META_NAME, json.dumps(meta, indent=2).encode())
        store = cls(folder, params, salt)
        store.unlock(passphrase)
        return store

    @classmethod
    def open(cls, folder: Path, passphrase: str) -> ProfileStore:
        store = cls.load(folder)
        store.unlock(passphrase)
        return store

    @classmethod
    def load(cls, folder: Path) -> ProfileStore:
        """The profile at ``folder``, still locked."""
        try:
            meta = json.loads((folder / META_NAME).read_text())
        except FileNotFoundError:
            raise NotFound(f"no profile in {folder}; run `accord init` first") from None
        except ValueError as exc:
            raise AccordError(f"profile metadata in {folder} is corrupt: {exc}") from None
        if meta.get("format") != FORMAT_VERSION or meta.get("kdf") != "argon2id":
            raise AccordError(f"unsupported profile format in {folder}")
        params = KdfParams(meta["time_cost"], meta["memory_kib"], meta["parallelism"])
        return cls(folder, params, bytes.fromhex(meta["salt"]))

    @property
    def locked(self) -> bool:
        return self._db is None

    def unlock(self, passphrase: str) -> None:
        self.unlock_key(self.derive(passphrase))

    def derive(self, passphrase: str) -> bytes:
        """The database key of ``passphrase`` (Argon2id; what ``accord agent`` holds)."""
        return derive_key(passphrase, self._salt, self._params)

    def unlock_key(self, key: bytes) -> None:
        """Open with a key derived before (WrongPassphrase when it is not this profile's)."""
        # 0700 folder, 0600 files (SQLite gives -wal/-shm the database's mode);
        # a profile made by an older version (0755/0644) is tightened here.
        private_file(self.folder / META_NAME, create=False)
        db = sqlcipher3.connect(str(private_database(self.folder / DB_NAME)), isolation_level=None)
        try:
            db.execute("PRAGMA cipher_log_level = NONE")
            db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError:
            db.close()
            raise WrongPassphrase("wrong passphrase for this profile") from None
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        self._db = db
        self._migrate()

    def lock(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def change_passphrase(self, old: str, new: str) -> None:
        """Re-key the database in place (SQLCipher ``PRAGMA rekey``)."""
        if self.locked:
            self.unlock(old)
        new_salt = secrets.token_bytes(16)
        key = derive_key(new, new_salt, self._params)
        self._conn().execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")
        meta = json.loads((self.folder / META_NAME).read_text())
        meta["salt"] = new_salt.hex()
        write_private(self.folder / META_NAME, json.dumps(meta, indent=2).encode())
        self._salt = new_salt

    def _conn(self) -> Any:
        if self._db is None:
            raise ProfileLocked("the profile is locked; unlock it with its passphrase")
        return self._db

    def _migrate(self) -> None:
        db = self._conn()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                _run_script(db, script)
                db.execute(f"PRAGMA user_version = {i}")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        db = self._conn()
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- key/value (device identity, settings, cursors) --------------------

    def put(self, key: str, value: bytes) -> None:
        self._conn().execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get(self, key: str) -> bytes | None:
        row = self._conn().execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, key: str) -> None:
        self._conn().execute("DELETE FROM kv WHERE key = ?", (key,))

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value).encode())

    def get_json(self, key: str, default: Any = None) -> Any:
        raw = self.get(key)
        return default if raw is None else json.loads(raw)

    # -- MLS group states ----------------------------------------------------

    def save_group(self, group_id: bytes, state: bytes, now: int) -> None:
        self._conn().execute(
            "INSERT INTO groups (group_id, state, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (group_id) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at",
            (group_id, state, now),
        )

    def load_group(self, group_id: bytes) -> bytes:
        row = self._conn().execute(
            "SELECT state FROM groups WHERE group_id = ?", (group_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no group state for {group_id.hex()}")
        return bytes(row[0])

    def drop_group(self, group_id: bytes) -> None:
        self._conn().execute("DELETE FROM groups WHERE group_id = ?", (group_id,))

    # -- conversations -------------------------------------------------------

    def add_conversation(
        self, conv_id: str, group_id: bytes, name: str, kind: str, now: int, meta: dict[str, Any]
    ) -> None:
        self._conn().execute(
            "INSERT INTO conversations (conv_id, group_id, name, kind, created_at, meta) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (conv_id, group_id, name, kind, now, json.dumps(meta)),
        )

    def update_conversation(self, conv_id: str, *, name: str | None = None,
                            meta: dict[str, Any] | None = None) -> None:
        if name is not None:
            self._conn().execute(
                "UPDATE conversations SET name = ? WHERE conv_id = ?", (name, conv_id))
        if meta is not None:
            self._conn().execute(
                "UPDATE conversations SET meta = ? WHERE conv_id = ?", (json.dumps(meta), conv_id))

    def conversations(self) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT conv_id, group_id, name, kind, created_at, meta FROM conversations "
            "ORDER BY created_at"
        ).fetchall()
        return [
            {"conv_id": r[0], "group_id": bytes(r[1]), "name": r[2], "kind": r[3],
             "created_at": r[4], "meta": json.loads(r[5])}
            for r in rows
        ]

    def conversation(self, conv_id: str) -> dict[str, Any]:
        """By id only; what a person types is resolved by ``conversations.find``."""
        for c in self.conversations():
            if c["conv_id"] == conv_id:
                return c
        raise NotFound(f"no conversation {conv_id!r}")

    def conversation_of_group(self, group_id: bytes) -> dict[str, Any] | None:
        """The conversation whose MLS group is ``group_id`` now, if any."""
        for c in self.conversations():
            if c["group_id"] == group_id:
                return c
        return None

    def move_conversation(self, conv_id: str, group_id: bytes) -> None:
        """The conversation continues in MLS group ``group_id`` (a ReInit, RFC 9420 11.2)."""
        self._conn().execute(
            "UPDATE conversations SET group_id = ? WHERE conv_id = ?", (group_id, conv_id))

    def drop_conversation(self, conv_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM messages WHERE conv_id = ?", (conv_id,))
            db.execute("DELETE FROM events WHERE conv_id = ?", (conv_id,))
            db.execute("DELETE FROM outbox WHERE conv_id = ?", (conv_id,))
            db.execute("DELETE FROM conversations WHERE conv_id = ?", (conv_id,))

    # -- messages ------------------------------------------------------------

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
        """Remove every message whose disappearing timer has ended."""
        cur = self._conn().execute(
            "DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
        return int(cur.rowcount)

    # -- outbox ----------------------------------------------------------------

    def outbox_add(self, item: OutboxItem) -> None:
        self._conn().execute(
            "INSERT INTO outbox (msg_id, conv_id, kind, plaintext, commitment, created_at, "
            "attempts, next_at, state, error, confirmed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item.msg_id, item.conv_id, item.kind, item.plaintext, item.commitment,
             item.created_at, item.attempts, item.next_at, item.state, item.error,
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

    # -- contacts and events -------------------------------------------------

    def upsert_contact(self, identity: str, **fields: Any) -> None:
        db = self._conn()
        db.execute("INSERT INTO contacts (identity) VALUES (?) ON CONFLICT DO NOTHING", (identity,))
        for name, value in fields.items():
            if name not in ("display_name", "state", "verified_fingerprint"):
                raise ValueError(f"unknown contact field {name}")
            db.execute(f"UPDATE contacts SET {name} = ? WHERE identity = ?", (value, identity))

    def contacts(self) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT identity, display_name, state, verified_fingerprint FROM contacts "
            "ORDER BY identity").fetchall()
        return [{"identity": r[0], "display_name": r[1], "state": r[2],
                 "verified_fingerprint": None if r[3] is None else bytes(r[3])} for r in rows]

    def contact(self, identity: str) -> dict[str, Any] | None:
        for c in self.contacts():
            if c["identity"] == identity:
                return c
        return None

    def contact_meta(self, identity: str) -> dict[str, Any]:
        row = self._conn().execute("SELECT meta FROM contacts WHERE identity = ?",
                                   (identity,)).fetchone()
        return {} if row is None else dict(json.loads(row[0]))

    def set_contact_meta(self, identity: str, meta: dict[str, Any]) -> None:
        self._conn().execute("UPDATE contacts SET meta = ? WHERE identity = ?",
                             (json.dumps(meta), identity))

    def add_event(self, conv_id: str, at: int, kind: str, detail: dict[str, Any]) -> None:
        self._conn().execute(
            "INSERT INTO events (conv_id, at, kind, detail, after_seq) VALUES (?, ?, ?, ?, "
            "(SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conv_id = ?))",
            (conv_id, at, kind, json.dumps(detail), conv_id))

    def events(self, conv_id: str) -> list[dict[str, Any]]:
        """In the order they happened; ``after_seq``: the last message received before."""
        rows = self._conn().execute(
            "SELECT at, kind, detail, after_seq FROM events WHERE conv_id = ? ORDER BY id",
            (conv_id,)).fetchall()
        return [{"at": r[0], "kind": r[1], "detail": json.loads(r[2]), "after_seq": r[3]}
                for r in rows]

    def events_after(self, event_id: int) -> list[dict[str, Any]]:
        """Every event (all conversations) recorded after event ``event_id``, oldest first."""
        rows = self._conn().execute(
            "SELECT id, conv_id, at, kind, detail FROM events WHERE id > ? ORDER BY id",
            (event_id,)).fetchall()
        return [{"id": r[0], "conv_id": r[1], "at": r[2], "kind": r[3],
                 "detail": json.loads(r[4])} for r in rows]


_OUTBOX_COLUMNS = ("msg_id, conv_id, kind, plaintext, commitment, created_at, attempts, "
                   "next_at, state, error, confirmed")


def _outbox_item(r: Any) -> OutboxItem:
    return OutboxItem(bytes(r[0]), r[1], r[2], bytes(r[3]), bytes(r[4]), r[5], r[6], r[7],
                      r[8], r[9], frozenset(json.loads(r[10])))


_MSG_COLUMNS = ("msg_id, conv_id, sender, sender_device, sent_at, received_at, kind, body, "
                "reply_to, edited, deleted, expires_at, meta")


def _message(r: Any) -> StoredMessage:
    return StoredMessage(bytes(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                         None if r[8] is None else bytes(r[8]), bool(r[9]), bool(r[10]),
                         r[11], json.loads(r[12]))


def _run_script(db: Any, script: str) -> None:
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
