"""The per-conversation index of MIMI message IDs in the profile (issue 22): what the
mapping of references reads, kept per conversation, a redelivery told apart from a
second message reusing an id (draft-ietf-mimi-content-08 9.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client.rooms import StoreIndex
from accord.client.store import KdfParams, ProfileStore
from accord.content import model
from accord.errors import ValidationError

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)
A, B = "alice@a.example", "bob@b.example"


def _c(n: int, body: model.BodyKinds) -> model.Content:
    return model.Content(model.Header(bytes([n]) * 16, 1, 0), body)


def _mid(n: int) -> bytes:
    return b"\x01" + bytes([n]) * 31


def test_the_index_maps_both_ways_per_conversation_and_survives_a_reopen(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    one, two = StoreIndex(store, "c1", A), StoreIndex(store, "c2", A)
    text = _c(1, model.Text("hi"))
    assert one.record(text, _mid(1), B)
    assert one.mimi_id(text.message_id) == _mid(1) and one.accord_id(_mid(1)) == text.message_id
    assert two.mimi_id(text.message_id) is None and two.accord_id(_mid(1)) is None
    store.lock()
    store = ProfileStore.open(tmp_path, "pw")
    assert StoreIndex(store, "c1", A).accord_id(_mid(1)) == text.message_id


def test_reactions_are_found_by_message_and_by_their_author(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    mine, theirs = StoreIndex(store, "c1", A), StoreIndex(store, "c1", B)
    target = bytes([1]) * 16
    mine.record(_c(2, model.Reaction(target, "👍")), _mid(2), A)
    theirs.record(_c(3, model.Reaction(target, "👍")), _mid(3), B)
    assert mine.reaction(_mid(2)) == (target, "👍") == mine.reaction(_mid(3))
    # removing "my" reaction names my reaction message, never another account's
    assert mine.reaction_id(target, "👍") == _mid(2)
    assert theirs.reaction_id(target, "👍") == _mid(3)
    assert mine.reaction_id(target, "👎") is None
    # a later reaction of mine with the same emoji (after a removal) is the one named
    mine.record(_c(4, model.Reaction(target, "👍", remove=True)), _mid(4), A)
    mine.record(_c(5, model.Reaction(target, "👍")), _mid(5), A)
    assert mine.reaction_id(target, "👍") == _mid(5)
    assert mine.reaction(_mid(4)) is None  # a removal is not a reaction


def test_a_redelivery_is_told_apart_from_a_reused_id(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    index = StoreIndex(store, "c1", A)
    text = _c(1, model.Text("hi"))
    assert index.record(text, _mid(1), B)
    assert not index.record(text, _mid(1), B)  # the same message again: no effect
    # another message (another MIMI ID) with the same salt is refused, not mixed up
    with pytest.raises(ValidationError, match="already has this message id"):
        index.record(_c(1, model.Text("mallory's")), _mid(9), "mallory@m.example")
    assert index.accord_id(_mid(9)) is None and index.mimi_id(text.message_id) == _mid(1)
    # a MIMI ID is one message of one conversation
    with pytest.raises(ValidationError, match="another conversation"):
        StoreIndex(store, "c2", A).record(_c(7, model.Text("x")), _mid(1), B)


def test_dropping_a_conversation_drops_its_index(tmp_path: Path) -> None:
    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    store.add_conversation("c1", b"g" * 16, "chat", "group", 1, {})
    index = StoreIndex(store, "c1", A)
    index.record(_c(1, model.Text("hi")), _mid(1), B)
    store.drop_conversation("c1")
    assert index.accord_id(_mid(1)) is None


def test_an_expired_message_takes_the_reactions_to_it_out_of_the_index(tmp_path: Path) -> None:
    from accord.client.store import StoredMessage

    store = ProfileStore.create(tmp_path, "pw", CHEAP)
    index = StoreIndex(store, "c1", A)
    gone, stays = _c(1, model.Text("brief")), _c(2, model.Text("stays"))
    for c, expires in ((gone, 2000), (stays, None)):
        index.record(c, _mid(c.message_id[0]), B)
        store.add_message(StoredMessage(c.message_id, "c1", B, "d", 1, 1, "text", "x", None,
                                        False, False, expires, {}))
    index.record(_c(3, model.Reaction(gone.message_id, "🔥")), _mid(3), A)
    index.record(_c(4, model.Reaction(stays.message_id, "🔥")), _mid(4), A)
    assert store.expire_messages(now=2000) == 1
    assert index.reaction(_mid(3)) is None and index.reaction_id(gone.message_id, "🔥") is None
    assert index.reaction(_mid(4)) == (stays.message_id, "🔥")
    # the expired message's own entry stays: delivered again, it is a redelivery
    assert not index.record(gone, _mid(1), B)
