"""Sending and receiving content (``messaging``, ``posting``): reactions, edits,
deletions, timers, receipts, attachments and the room's notices, between two devices on
the in-memory provider (no server, no socket; time is the test's)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import messaging, posting
from accord.client.conv_state import deactivate
from accord.content import Edit, Notice, NoticeKind, Reaction, make_content
from accord.errors import NotFound, ValidationError

from .fakes import NOW, pair

ALICE, BOB = "alice@alpha.test", "bob@alpha.test"


def _texts(dev, conv) -> list[str]:
    return [m_.body for m_ in dev.store.messages(conv["conv_id"]) if not m_.deleted]


async def test_reactions_edits_and_deletions_reach_the_other_member(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    mid = await messaging.send_text(alice, ca, "first", NOW + 1)
    await bob.sync(NOW + 2)
    await messaging.react(bob, cb, mid, "👍", NOW + 3)
    await alice.sync(NOW + 4)
    assert alice.store.message(mid).meta["reactions"] == {"👍": [BOB]}
    await messaging.react(bob, cb, mid, "👍", NOW + 5, remove=True)
    await alice.sync(NOW + 6)
    assert alice.store.message(mid).meta["reactions"] == {}
    with pytest.raises(NotFound):
        await messaging.react(bob, cb, b"\x00" * 16, "x", NOW)  # no such message
    with pytest.raises(ValidationError, match="your own"):
        await messaging.edit(bob, cb, mid, "not yours", NOW)
    with pytest.raises(ValidationError, match="your own"):
        await messaging.delete(bob, cb, mid, NOW)
    await messaging.edit(alice, ca, mid, "first, edited", NOW + 7)
    await bob.sync(NOW + 8)
    assert bob.store.message(mid).body == "first, edited" and bob.store.message(mid).edited
    await messaging.delete(alice, ca, mid, NOW + 9)
    await bob.sync(NOW + 10)
    assert bob.store.message(mid).deleted
    # only a message's author edits it: a forged edit by bob changes nothing for alice
    mid2 = await messaging.send_text(alice, ca, "second", NOW + 11)
    content = make_content(Edit(mid2, "forged"),
                                     random_bytes=bob.random_bytes, sent_at=NOW, expires_after=0)
    messaging.apply(alice, ca, content, BOB, bob.identity.device_id, NOW, mimi_id=os.urandom(32))
    assert alice.store.message(mid2).body == "second"
    # a reaction or receipt about a message never seen is dropped
    ghost = make_content(Reaction(b"\x01" * 16, "x"),
                                   random_bytes=bob.random_bytes, sent_at=NOW, expires_after=0)
    messaging.apply(alice, ca, ghost, BOB, bob.identity.device_id, NOW, mimi_id=os.urandom(32))


async def test_timers_and_read_receipts(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.set_timer(alice, ca, 60, NOW + 1)
    await bob.sync(NOW + 2)
    cb = bob.store.conversation(cb["conv_id"])
    assert cb["meta"]["timer"] == 60
    assert [e["detail"] for e in bob.store.events(cb["conv_id"]) if e["kind"] == "timer"] == [
        {"by": ALICE, "seconds": 60}]
    mid = await messaging.send_text(alice, alice.store.conversation(ca["conv_id"]), "brief",
                                    NOW + 3)
    await bob.sync(NOW + 4)
    assert bob.store.message(mid).expires_at == NOW + 3 + 60_000
    assert await messaging.mark_read(bob, cb, NOW + 5) == 1
    assert await messaging.mark_read(bob, cb, NOW + 6) == 0  # receipted already
    await alice.sync(NOW + 7)
    assert alice.store.message(mid).meta["read_by"] == [BOB]


async def test_files_go_up_in_parts_and_come_back_checked(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    monkeypatch.setattr(messaging, "PART_BYTES", 4096)  # several parts for a small file
    monkeypatch.setattr(messaging, "READ_BYTES", 1500)
    data = bytes(range(256)) * 40  # 10 KiB
    sent: list[tuple[int, int]] = []
    mid = await messaging.send_file(alice, ca, data, "notes.bin", "application/octet-stream",
                                    NOW + 1, text="the notes",
                                    progress=lambda d, t: sent.append((d, t)))
    assert len(sent) >= 3 and sent[-1][0] == sent[-1][1]
    await bob.sync(NOW + 2)
    got: list[tuple[int, int]] = []
    name, plain = await messaging.fetch_attachment(bob, mid,
                                                   progress=lambda d, t: got.append((d, t)))
    assert (name, plain) == ("notes.bin", data) and got[-1][0] == got[-1][1]
    assert bob.store.message(mid).kind == "file"
    out = io.BytesIO()
    assert await messaging.fetch_attachment_to(bob, mid, out) == "notes.bin"
    assert out.getvalue() == data
    with pytest.raises(NotFound):
        await messaging.fetch_attachment(bob, mid, index=1)
    meta = dict(bob.store.message(mid).meta)
    meta["attachments"] = [dict(meta["attachments"][0], locator="https://elsewhere/x")]
    bob.store.update_message_meta(mid, meta)
    with pytest.raises(ValidationError, match="unknown attachment locator"):
        await messaging.fetch_attachment(bob, mid)
    meta["attachments"] = [dict(meta["attachments"][0], locator=messaging.LOCATOR_PREFIX
                                + ",".join(["b"] * (messaging.MAX_PARTS + 1)))]
    bob.store.update_message_meta(mid, meta)
    with pytest.raises(ValidationError, match="too many parts"):
        await messaging.fetch_attachment(bob, mid)


async def test_room_notices_follow_the_room_policy(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    cb = bob.store.conversation(cb["conv_id"])
    assert cb["meta"]["admins"] == [ALICE] and cb["name"] == "hike"

    def notice(kind: NoticeKind, subject: str, by: str) -> None:
        content = make_content(Notice(kind, subject), random_bytes=bob.random_bytes,
                                         sent_at=NOW, expires_after=0)
        messaging.apply(bob, cb, content, by, "D" * 22, NOW, mimi_id=os.urandom(32))

    notice(NoticeKind.RENAMED, "hike", BOB)  # a non-admin restating the room: a no-op
    assert [e for e in bob.store.events(cb["conv_id"]) if e["kind"] == "security"] == []
    notice(NoticeKind.RENAMED, "taken over", "mallory@alpha.test")  # not an admin
    (ev,) = [e for e in bob.store.events(cb["conv_id"]) if e["kind"] == "security"]
    assert "without being an admin" in ev["detail"]["what"]
    assert bob.store.conversation(cb["conv_id"])["name"] == "hike"
    notice(NoticeKind.ADMINS_CHANGED, f"{ALICE},{BOB}", ALICE)
    assert bob.store.conversation(cb["conv_id"])["meta"]["admins"] == [ALICE, BOB]
    notice(NoticeKind.RENAMED, "walk", BOB)  # an admin now
    assert bob.store.conversation(cb["conv_id"])["name"] == "walk"
    notice(NoticeKind.MEMBER_LEFT, ALICE, ALICE)
    assert bob.store.conversation(cb["conv_id"])["meta"]["left"] == [ALICE]
    notice(NoticeKind.MEMBER_LEFT, ALICE, ALICE)  # told once
    assert [e["kind"] for e in bob.store.events(cb["conv_id"])].count("member_left") == 1
    notice(NoticeKind.MEMBER_LEFT, BOB, ALICE)  # only for oneself: ignored
    assert bob.store.conversation(cb["conv_id"])["meta"]["left"] == [ALICE]
    notice(NoticeKind.PROFILE_NAME, "Alice", ALICE)
    assert bob.store.contact(ALICE)["display_name"] == "Alice"


async def test_nothing_is_sent_to_a_conversation_we_are_out_of(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    removed = dict(cb, meta=dict(cb["meta"], active=False))
    with pytest.raises(ValidationError, match="not in hike"):
        posting.require_member(bob, removed)  # not added yet (no event says otherwise)
    deactivate(bob, cb, NOW, ALICE)
    with pytest.raises(ValidationError, match="removed from hike"):
        await messaging.send_text(bob, bob.store.conversation(cb["conv_id"]), "hi", NOW)
    assert await messaging.mark_read(bob, bob.store.conversation(cb["conv_id"]), NOW) == 0
    await convs.leave(alice, ca, NOW + 1)
    with pytest.raises(ValidationError, match="you left hike"):
        posting.require_member(alice, alice.store.conversation(ca["conv_id"]))
