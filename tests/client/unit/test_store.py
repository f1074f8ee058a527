"""The device's encrypted profile database (issue: client and CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client.store import (
    KdfParams,
    ProfileLocked,
    ProfileStore,
    StoredMessage,
    WrongPassphrase,
)

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def msg(i: int, body: str, conv: str = "c1", sender: str = "bob@alpha.test",
        at: int = 1000, expires: int | None = None) -> StoredMessage:
    return StoredMessage(i.to_bytes(16, "big"), conv, sender, "d1", at + i, at + i, "text",
                         body, None, False, False, expires, {})


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "correct horse", CHEAP)
    store.put("k", b"v")
    store.lock()
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        ProfileStore.open(tmp_path, "battery staple")
    assert ProfileStore.open(tmp_path, "correct horse").get("k") == b"v"


def test_locked_profile_refuses_reads_until_unlocked(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    store.put("k", b"v")
    store.lock()
    with pytest.raises(ProfileLocked):
        store.get("k")
    store.unlock("pw")
    assert store.get("k") == b"v"


def test_T02_nothing_readable_on_disk(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "PASSPHRASE-MARKER-4711", CHEAP)
    secret_text = "meet me at the old lighthouse at dawn"
    store.add_message(msg(1, secret_text))
    store.put("device_key", b"\x13" * 32 + b"PRIVATEKEYMARKER")
    store.lock()
    for f in tmp_path.iterdir():
        raw = f.read_bytes()
        assert b"lighthouse" not in raw
        assert b"PRIVATEKEYMARKER" not in raw
        assert b"PASSPHRASE-MARKER" not in raw


def test_duplicates_are_dropped_and_search_filters(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    assert store.add_message(msg(1, "hello brave new world"))
    assert not store.add_message(msg(1, "hello brave new world"))
    store.add_message(msg(2, "hello again", conv="c2", sender="carol@alpha.test"))
    store.add_message(msg(3, "unrelated"))
    assert [m.body for m in store.search("hello")] == ["hello again", "hello brave new world"]
    assert [m.body for m in store.search("hello", sender="carol@alpha.test")] == ["hello again"]
    assert [m.body for m in store.search("hello", conv_id="c1")] == ["hello brave new world"]
    assert [m.body for m in store.search("hello", since=1002)] == ["hello again"]
    # FTS5 operators in user input are neutralised, not interpreted or crashing
    assert store.search('hello" OR "x') == []
    assert store.search("NEAR(") == []


def test_edit_delete_and_index_follow(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    store.add_message(msg(1, "first draft"))
    store.edit_message((1).to_bytes(16, "big"), "final text")
    assert store.search("draft") == []
    assert store.search("final")[0].edited
    store.delete_message((1).to_bytes(16, "big"))
    assert store.search("final") == []
    assert store.message((1).to_bytes(16, "big")).deleted


def test_disappearing_messages_expire(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    store.add_message(msg(1, "ephemeral", expires=2000))
    store.add_message(msg(2, "lasting"))
    assert store.expire_messages(now=1999) == 0
    assert store.expire_messages(now=2000) == 1
    assert [m.body for m in store.messages("c1")] == ["lasting"]
    assert store.search("ephemeral") == []


def test_change_passphrase(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "old", CHEAP)
    store.put("k", b"v")
    store.change_passphrase("old", "new")
    store.lock()
    with pytest.raises(WrongPassphrase):
        ProfileStore.open(tmp_path, "old")
    assert ProfileStore.open(tmp_path, "new").get("k") == b"v"
