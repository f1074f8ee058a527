"""The per-conversation index of MIMI message IDs in the profile database (issue 22).

MIMI content refers to earlier messages (``inReplyTo``, ``replaces``, the
receipts Accord sends) by their MIMI message ID (draft-ietf-mimi-content-08
3.3), a hash of the whole message, its sender and its room; Accord's views
keep a message under its own id, the content's salt. Each message this
device sends or receives is recorded here, in the same transaction as its
effect: its salt, its MIMI ID, its sender and, for a reaction, what it
reacted to, so that a later removal names the reaction message. The table is
migration v5 of ``store_db``.
"""

from __future__ import annotations

from typing import Any

from accord.client.store_db import Database
from accord.errors import ValidationError


class MimiIndexTables(Database):
    def mimi_record(self, conv_id: str, accord_id: bytes, mimi_id: bytes, sender: str,
                    reaction: tuple[bytes, str] | None = None) -> bool:
        """Record one message; False when this very message (its MIMI ID) is already
        recorded (a redelivery). Another message with the same salt in the conversation
        is refused (section 9.1: a duplicate message ID is discarded)."""
        db = self._conn()
        row = db.execute("SELECT mimi_id FROM mimi_ids WHERE conv_id = ? AND accord_id = ?",
                         (conv_id, accord_id)).fetchone()
        if row is not None:
            if bytes(row[0]) == mimi_id:
                return False
            raise ValidationError("another message already has this message id",
                                  "draft-ietf-mimi-content-08 9.1")
        target, emoji = reaction if reaction is not None else (None, None)
        cur = db.execute(
            "INSERT INTO mimi_ids (mimi_id, conv_id, accord_id, sender, reaction_target, "
            "reaction_emoji) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (mimi_id) DO NOTHING",
            (mimi_id, conv_id, accord_id, sender, target, emoji))
        if cur.rowcount != 1:
            raise ValidationError("this MIMI message ID belongs to another conversation",
                                  "draft-ietf-mimi-content-08 9.1")
        return True

    def mimi_rekey(self, conv_id: str, accord_id: bytes, mimi_id: bytes) -> None:
        """The new MIMI ID of a message of ours sealed again for another room (a ReInit
        moved the conversation to another MLS group before it was sent)."""
        self._conn().execute("UPDATE mimi_ids SET mimi_id = ? WHERE conv_id = ? AND "
                             "accord_id = ?", (mimi_id, conv_id, accord_id))

    def mimi_id_of(self, conv_id: str, accord_id: bytes) -> bytes | None:
        return _one(self._conn().execute(
            "SELECT mimi_id FROM mimi_ids WHERE conv_id = ? AND accord_id = ?",
            (conv_id, accord_id)).fetchone())

    def accord_id_of(self, conv_id: str, mimi_id: bytes) -> bytes | None:
        return _one(self._conn().execute(
            "SELECT accord_id FROM mimi_ids WHERE conv_id = ? AND mimi_id = ?",
            (conv_id, mimi_id)).fetchone())

    def mimi_reaction(self, conv_id: str, mimi_id: bytes) -> tuple[bytes, str, str] | None:
        """(target, emoji, sender) of the reaction message ``mimi_id``."""
        row = self._conn().execute(
            "SELECT reaction_target, reaction_emoji, sender FROM mimi_ids "
            "WHERE conv_id = ? AND mimi_id = ? AND reaction_target IS NOT NULL",
            (conv_id, mimi_id)).fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]), str(row[2]))

    def mimi_reaction_id(self, conv_id: str, sender: str, target: bytes, emoji: str
                         ) -> bytes | None:
        """The MIMI ID of ``sender``'s latest reaction ``emoji`` to ``target``."""
        return _one(self._conn().execute(
            "SELECT mimi_id FROM mimi_ids WHERE conv_id = ? AND sender = ? AND "
            "reaction_target = ? AND reaction_emoji = ? ORDER BY rowid DESC LIMIT 1",
            (conv_id, sender, target, emoji)).fetchone())


def _one(row: Any) -> bytes | None:
    return None if row is None else bytes(row[0])
