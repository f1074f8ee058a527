"""The profile database's tables and transactions (``store``, ``store_db``,
``store_messages``, ``store_outbox``) on a real SQLCipher file in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlcipher3

from accord.client import store_db
from accord.client.store import (
    KdfParams,
    OutboxItem,
    ProfileLocked,
    ProfileStore,
    StoredMessage,
)
from accord.client.store_db import MIGRATIONS, ProfileUnavailable, _unavailable, run_script
from accord.errors import AccordError, NotFound, ValidationError

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    s = ProfileStore.create(tmp_path / "p", "pw", CHEAP)
    yield s
    s.lock()


def _msg(i: int, conv: str = "c1", sender: str = "bob@alpha.test", body: str = "",
         received: int = 0) -> StoredMessage:
    return StoredMessage(i.to_bytes(16, "big"), conv, sender, "d1", 1000 + i,
                         received or 1000 + i, "text", body or f"m{i}", None, False, False,
                         None, {})


def test_profile_metadata_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="accord init"):
        ProfileStore.load(tmp_path / "none")
    s = ProfileStore.create(tmp_path / "p", "pw", CHEAP)
    s.lock()
    with pytest.raises(AccordError, match="already exists"):
        ProfileStore.create(tmp_path / "p", "pw", CHEAP)
    meta = tmp_path / "p" / "profile.json"
    saved = meta.read_text()
    meta.write_text("{not json")
    with pytest.raises(AccordError, match="corrupt"):
        ProfileStore.load(tmp_path / "p")
    meta.write_text(json.dumps(dict(json.loads(saved), format=2)))
    with pytest.raises(AccordError, match="unsupported profile format"):
        ProfileStore.load(tmp_path / "p")
    meta.write_text(json.dumps(dict(json.loads(saved), kdf="pbkdf2")))
    with pytest.raises(AccordError, match="unsupported profile format"):
        ProfileStore.load(tmp_path / "p")
    meta.write_text(saved)
    locked = ProfileStore.load(tmp_path / "p")
    assert locked.locked
    with pytest.raises(ProfileLocked):
        locked.conversations()
    # the derived key opens it like the passphrase (what `accord agent` holds)
    locked.unlock_key(locked.derive("pw"))
    assert not locked.locked and locked.conversations() == []
    locked.lock()
    locked.lock()  # twice is harmless


def test_a_fresh_profile_is_at_the_last_migration_and_an_old_one_is_brought_up(
        tmp_path: Path) -> None:
    s = ProfileStore.create(tmp_path / "p", "pw", CHEAP)
    assert s._conn().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    # a v1 database with a message and an event: v2 numbers messages, v3 places events
    db = s._conn()
    db.execute("PRAGMA foreign_keys = OFF")
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'messages_fts_%'").fetchall()]
    for table in tables:  # the FTS5 table drops its shadow tables itself
        db.execute(f"DROP TABLE {table}")
    db.execute("PRAGMA user_version = 0")
    run_script(db, MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO messages (msg_id, conv_id, sender, sender_device, sent_at, "
               "received_at, kind, body) VALUES (x'01', 'c1', 's', 'd', 5, 5, 'text', 'old')")
    db.execute("INSERT INTO events (conv_id, at, kind, detail) VALUES ('c1', 6, 'x', '{}')")
    s.lock()
    s.unlock("pw")
    assert s._conn().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert s.seqs("c1") == {b"\x01": 1}
    assert s.events("c1") == [{"at": 6, "kind": "x", "detail": {}, "after_seq": 1}]
    assert s.outbox() == []
    s.lock()


def test_run_script_keeps_trigger_bodies_whole(store: ProfileStore) -> None:
    db = store._conn()
    run_script(db, "CREATE TABLE t (a);\nCREATE TABLE u (a);\n"
                   "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN\n"
                   "  INSERT INTO u (a) VALUES (new.a);\n  INSERT INTO u (a) VALUES (new.a);\n"
                   "END;\nINSERT INTO t (a) VALUES (7)")  # a last statement without ';'
    assert db.execute("SELECT count(*) FROM u WHERE a = 7").fetchone()[0] == 2


def test_a_transaction_is_all_or_nothing_and_nests_into_the_outer_one(
        store: ProfileStore) -> None:
    with pytest.raises(ValidationError), store.transaction():
        store.put("a", b"1")
        with store.transaction():  # joins the open one
            store.put("b", b"2")
        raise ValidationError("undo")
    assert store.get("a") is None and store.get("b") is None
    with store.transaction():
        store.put("a", b"1")
    assert store.get("a") == b"1"


def test_a_savepoint_undoes_only_its_step_on_a_typed_error(store: ProfileStore) -> None:
    with pytest.raises(RuntimeError, match="open transaction"), store.savepoint():
        pass
    with store.transaction():
        store.put("kept", b"1")
        with pytest.raises(NotFound), store.savepoint():
            store.put("undone", b"2")
            raise NotFound("step fails alone")
        with store.savepoint():
            store.put("also kept", b"3")
    assert (store.get("kept"), store.get("undone"), store.get("also kept")) == (b"1", None, b"3")
    # a failure of the profile itself goes on to the transaction: all of it is undone
    with pytest.raises(ProfileUnavailable), store.transaction():
        store.put("x", b"1")
        with store.savepoint():
            raise ProfileUnavailable("disk")
    assert store.get("x") is None


def test_sqlite_failures_become_profile_unavailable_with_the_cause_named(
        store: ProfileStore, monkeypatch: pytest.MonkeyPatch) -> None:
    full = _unavailable(sqlcipher3.OperationalError("database or disk is full"))
    busy = _unavailable(sqlcipher3.OperationalError("database is locked"))
    other = _unavailable(sqlcipher3.DatabaseError("file is not a database"))
    assert isinstance(full, ProfileUnavailable) and "disk is full" in str(full)
    assert "another program" in str(busy)
    assert "could not be read or written" in str(other)
    assert _unavailable(sqlcipher3.IntegrityError("UNIQUE")) is None
    assert _unavailable(ValueError("x")) is None
    # raised inside a transaction: rolled back, and typed
    with pytest.raises(ProfileUnavailable, match="disk is full"), store.transaction() as db:
        db.execute("INSERT INTO kv (key, value) VALUES ('k', x'00')")
        raise sqlcipher3.OperationalError("database or disk is full")
    assert store.get("k") is None
    # an integrity error is a bug, not an outage: it stays what it is
    store.put("dup", b"1")
    with pytest.raises(sqlcipher3.IntegrityError), store.transaction() as db:
        db.execute("INSERT INTO kv (key, value) VALUES ('dup', x'00')")
    assert store_db.ProfileUnavailable.code == "profile_unavailable"


def test_key_values_and_group_states(store: ProfileStore) -> None:
    store.put_json("settings", {"a": 1})
    assert store.get_json("settings") == {"a": 1}
    assert store.get_json("missing", default=[]) == []
    store.delete("settings")
    assert store.get("settings") is None
    with pytest.raises(NotFound):
        store.load_group(b"g")
    store.save_group(b"g", b"s1", 1)
    store.save_group(b"g", b"s2", 2)
    assert store.load_group(b"g") == b"s2"
    store.drop_group(b"g")
    with pytest.raises(NotFound):
        store.load_group(b"g")


def test_conversations_move_and_drop_with_everything_they_hold(store: ProfileStore) -> None:
    store.add_conversation("c1", b"g1", "hiking", "group", 10, {"a": 1})
    store.add_conversation("c2", b"g2", "notes", "self", 5, {})
    assert [c["conv_id"] for c in store.conversations()] == ["c2", "c1"]
    store.update_conversation("c1", name="trip", meta={"b": 2})
    assert store.conversation("c1")["name"] == "trip"
    assert store.conversation("c1")["meta"] == {"b": 2}
    with pytest.raises(NotFound):
        store.conversation("c9")
    assert store.conversation_of_group(b"g1")["conv_id"] == "c1"
    store.move_conversation("c1", b"g3")
    assert store.conversation_of_group(b"g1") is None
    assert store.conversation_of_group(b"g3")["conv_id"] == "c1"
    store.add_message(_msg(1))
    store.add_event("c1", 50, "renamed", {"by": "x"})
    store.outbox_add(OutboxItem(b"o" * 16, "c1", "text", b"p", 1, 0, 1, "pending", "",
                                frozenset()))
    store.drop_conversation("c1")
    assert [c["conv_id"] for c in store.conversations()] == ["c2"]
    assert store.messages("c1") == [] and store.events("c1") == [] and store.outbox() == []


def test_contacts_refuse_unknown_fields(store: ProfileStore) -> None:
    store.upsert_contact("bob@beta.test", display_name="Bob", state="verified",
                         verified_fingerprint=b"\x01\x02")
    store.upsert_contact("bob@beta.test")  # again: nothing lost
    assert store.contact("bob@beta.test") == {
        "identity": "bob@beta.test", "display_name": "Bob", "state": "verified",
        "verified_fingerprint": b"\x01\x02"}
    assert store.contact("nobody@x.test") is None
    with pytest.raises(ValueError, match="unknown contact field"):
        store.upsert_contact("bob@beta.test", meta="{}")
    assert store.contact_meta("bob@beta.test") == {}
    assert store.contact_meta("nobody@x.test") == {}
    store.set_contact_meta("bob@beta.test", {"nick": "B"})
    assert store.contact_meta("bob@beta.test") == {"nick": "B"}


def test_events_are_placed_after_the_messages_received_before_them(store: ProfileStore) -> None:
    store.add_event("c1", 1, "created", {"by": "a"})
    store.add_message(_msg(1))
    store.add_message(_msg(2))
    store.add_event("c1", 2, "renamed", {"by": "a", "name": "x"})
    store.add_event("c2", 3, "created", {"by": "b"})
    assert [(e["kind"], e["after_seq"]) for e in store.events("c1")] == [
        ("created", 0), ("renamed", 2)]
    assert [(e["conv_id"], e["kind"]) for e in store.events_after(1)] == [
        ("c1", "renamed"), ("c2", "created")]
    assert store.events_after(3) == []


def test_message_positions_pages_activity_and_kind_deletion(store: ProfileStore) -> None:
    assert store.first_seq("c1") == 1
    for i in range(1, 6):
        store.add_message(_msg(i, sender="me@alpha.test" if i == 3 else "bob@alpha.test"))
    store.add_message(_msg(9, body="old history"), seq=-3)  # imported below the first
    assert store.first_seq("c1") == -3
    assert [m.body for m in store.messages("c1")][:2] == ["old history", "m1"]
    page = store.latest_messages("c1", 2)
    assert [(s, m.body) for s, m in page] == [(4, "m4"), (5, "m5")]
    assert [s for s, _ in store.latest_messages("c1", 2, before_seq=4)] == [2, 3]
    # unread: others' messages after the read position; the newest activity and position
    store.add_event("c1", 99_999, "renamed", {})
    assert store.activity("c1", "me@alpha.test", 2) == (2, 99_999, 5)
    store.delete_message((4).to_bytes(16, "big"))  # deleted ones are not unread
    assert store.activity("c1", "me@alpha.test", 2)[0] == 1
    assert store.activity("empty", "me@alpha.test", 0) == (0, 0, 0)
    preview = StoredMessage(b"r" * 16, "c1", "x@y.test", "d", 1, 1, "request_preview", "p",
                            None, False, False, None, {})
    store.add_message(preview)
    assert store.delete_messages("c1", "request_preview") == 1
    assert store.delete_messages("c1", "request_preview") == 0
    with pytest.raises(NotFound):
        store.message(b"r" * 16)


def test_an_edit_of_a_deleted_message_changes_nothing(store: ProfileStore) -> None:
    store.add_message(StoredMessage(b"m" * 16, "c1", "b", "d", 1, 1, "text", "secret", b"x" * 16,
                                    False, False, 5, {"reactions": {"+": ["a"]}}))
    got = store.message(b"m" * 16)
    assert got.reply_to == b"x" * 16 and got.expires_at == 5
    store.update_message_meta(b"m" * 16, {"k": 1})
    assert store.message(b"m" * 16).meta == {"k": 1}
    store.delete_message(b"m" * 16)
    store.edit_message(b"m" * 16, "resurrected")
    gone = store.message(b"m" * 16)
    assert (gone.body, gone.deleted, gone.edited, gone.meta) == ("", True, False, {})
    assert store.search("resurrected") == [] and store.search("secret") == []


def test_search_without_words_filters_only(store: ProfileStore) -> None:
    store.add_message(_msg(1, body="alpha"))
    store.add_message(_msg(2, body="beta", conv="c2"))
    assert [m.body for m in store.search("   ", conv_id="c2")] == ["beta"]
    assert [m.body for m in store.search("", until=1001)] == ["alpha"]
    assert len(store.search("", limit=1)) == 1


def test_the_outbox_keeps_items_in_order_and_updates_them(store: ProfileStore) -> None:
    def item(n: int, conv: str) -> OutboxItem:
        return OutboxItem(bytes([n]) * 16, conv, "text", b"plain", n, 0, n,
                          "pending", "", frozenset({"z@x.test", "a@x.test"}))

    for n, conv in ((1, "c1"), (2, "c2"), (3, "c1")):
        store.outbox_add(item(n, conv))
    assert [i.msg_id[0] for i in store.outbox()] == [1, 2, 3]
    assert [i.msg_id[0] for i in store.outbox("c1")] == [1, 3]
    assert store.outbox_item(bytes([2]) * 16) == item(2, "c2")
    assert store.outbox_item(b"\x09" * 16) is None
    store.outbox_update(bytes([1]) * 16, attempts=2, next_at=50, state="held", error="why")
    got = store.outbox_item(bytes([1]) * 16)
    assert (got.attempts, got.next_at, got.state, got.error) == (2, 50, "held", "why")
    assert got.confirmed == frozenset({"a@x.test", "z@x.test"})
    store.outbox_remove(bytes([1]) * 16)
    assert [i.msg_id[0] for i in store.outbox()] == [2, 3]
