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

This module and the ``store_*`` modules it is built of are the only places
that write the client's SQL; the provider's storage is a different package
(``accord.storage``) and shares nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from argon2.low_level import Type, hash_secret_raw

from accord.client.store_db import ProfileLocked as ProfileLocked
from accord.client.store_messages import MessageTables
from accord.client.store_messages import StoredMessage as StoredMessage
from accord.client.store_mimi import MimiIndexTables
from accord.client.store_outbox import OutboxItem as OutboxItem
from accord.client.store_outbox import OutboxTables
from accord.errors import AccordError, AuthError, NotFound
from accord.private_files import private_database, private_file, private_folder, write_private

FORMAT_VERSION = 1
DB_NAME = "profile.db"
META_NAME = "profile.json"


class WrongPassphrase(AuthError):
    code = "wrong_passphrase"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost. The default follows RFC 9106's second recommended
    option (64 MiB, 3 passes); tests use a cheaper one."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1


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


class ProfileStore(MessageTables, OutboxTables, MimiIndexTables):
    """An open (or locked) device profile. Not thread-safe; one per process.

    Its tables are kept by the modules it is built of: the connection and the
    migrations (``store_db``), messages (``store_messages``), the outbox
    (``store_outbox``); key/value, group states, conversations, contacts and
    events here."""

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
            db.execute("DELETE FROM mimi_ids WHERE conv_id = ?", (conv_id,))
            db.execute("DELETE FROM conversations WHERE conv_id = ?", (conv_id,))

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


