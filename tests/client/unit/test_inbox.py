"""Applying queue items (``inbox``): in order, each whole or not at all, a bad item
recorded and stepped over, replays and strays ignored, on the in-memory provider."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from accord.client import alerts, inbox, message_requests, messaging
from accord.client import conversations as convs
from accord.wire import messages as m

from .fakes import NOW, pair

ALICE, BOB = "alice@alpha.test", "bob@alpha.test"


def _item(dev, kind: str, body: bytes, group_id: bytes | None, **kw) -> m.QueueItem:
    return m.QueueItem(seq=dev.cursor + 1, msg_id="x", kind=kind, body=body, created_at=NOW,
                       group_id=group_id, **kw)


def _errors(dev, conv) -> list[dict]:
    return [e["detail"] for e in dev.store.events(conv["conv_id"]) if e["kind"] == "error"]


async def test_T03_a_bad_item_is_rolled_back_recorded_and_stepped_over(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    bad = _item(bob, "application", b"not an MLS message", cb["group_id"], epoch=1)
    assert await inbox.apply_items(bob, [bad], NOW) == 1
    assert bob.cursor == bad.seq  # the loop goes on past it
    assert _errors(bob, cb) == [{"what": "a application could not be applied",
                                 "error": "DecodeError"}]
    # the fork monitor's alert about it is evidence and is kept, with its event (T07)
    assert [a["detail"]["evidence"] for a in alerts.all_alerts(bob.store)
            if a["kind"] == "split_view"] == ["epoch_tag_missing"]
    # nothing of the failed item stayed: the next real message is read as usual
    await messaging.send_text(alice, ca, "after the bad one", NOW + 1)
    await bob.sync(NOW + 2)
    assert [x.body for x in bob.store.messages(cb["conv_id"])][-1] == "after the bad one"


async def test_replays_strays_and_old_items_change_nothing(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    before = bob.store.events(cb["conv_id"])
    old = m.QueueItem(seq=bob.cursor, msg_id="o", kind="application", body=b"x",
                      created_at=NOW, group_id=cb["group_id"])
    stray = _item(bob, "application", b"x", b"\x00" * 16)  # a group we are not in
    assert await inbox.apply_items(bob, [old], NOW) == 0  # at or below the cursor
    assert await inbox.apply_items(bob, [stray], NOW) == 1
    proposal = _item(bob, "proposal", b"x", cb["group_id"], epoch=0)  # an epoch that is over
    assert await inbox.apply_items(bob, [proposal], NOW) == 1
    commit = _item(bob, "commit", b"x", cb["group_id"], epoch=0,
                   chain_seq=0, chain=p.groups[cb["group_id"]].link)  # applied already
    assert await inbox.apply_items(bob, [commit], NOW) == 1
    assert _errors(bob, cb) == []
    assert [e["kind"] for e in bob.store.events(cb["conv_id"])] == [
        e["kind"] for e in before]


async def test_a_welcome_twice_and_a_member_added_back(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    carol = await p.device(tmp_path / "carol", "carol@alpha.test")
    await convs.add_members(alice, ca, ["carol@alpha.test"], NOW + 1)
    welcome = [i for i in p.row(carol).queue if i.kind == "welcome"][-1]
    await carol.sync(NOW + 2)
    (cc,) = carol.store.conversations()
    again = replace(welcome, seq=carol.cursor + 1)
    assert await inbox.apply_items(carol, [again], NOW + 3) == 1  # delivered twice: no change
    assert len(carol.store.conversations()) == 1
    await convs.remove_member(alice, alice.store.conversation(ca["conv_id"]),
                              "carol@alpha.test", NOW + 4)
    await carol.sync(NOW + 5)
    assert carol.store.conversation(cc["conv_id"])["meta"]["active"] is False
    await convs.add_members(alice, alice.store.conversation(ca["conv_id"]),
                            ["carol@alpha.test"], NOW + 6)
    await carol.sync(NOW + 7)
    back = carol.store.conversation(cc["conv_id"])
    assert back["meta"]["active"] is True  # the history stays, the keys are new
    assert [e["kind"] for e in carol.store.events(cc["conv_id"])].count("joined") == 2


async def test_T14_a_blocked_member_s_posts_in_a_group_are_dropped_unread(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    bob.store.put_json("blocks", {"targets": [ALICE], "at": NOW})
    await messaging.send_text(alice, ca, "you cannot read this", NOW + 1)
    await bob.sync(NOW + 2)
    assert "you cannot read this" not in [x.body for x in bob.store.messages(cb["conv_id"])]


async def test_a_bad_held_item_is_recorded_at_the_accept(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    carol = await p.device(tmp_path / "carol", "carol@alpha.test")
    conv = await convs.create(alice, "listed", ["carol@alpha.test"], NOW)
    p.requests.setdefault("carol@alpha.test", {})[conv["group_id"]] = ALICE
    await carol.sync(NOW + 1)  # the Welcome waits unparsed
    await messaging.send_text(alice, conv, "held for later", NOW + 2)
    p.enqueue(carol.identity.device_id, "application", b"garbage", group_id=conv["group_id"],
              epoch=1)
    await carol.sync(NOW + 3)
    (req,) = message_requests.pending(carol)
    assert await message_requests.accept(carol, req, NOW + 4) >= 1
    joined = carol.store.conversation_of_group(conv["group_id"])
    assert any(e["what"] == "a held application could not be applied"
               for e in _errors(carol, joined))
    assert "held for later" in [x.body for x in carol.store.messages(joined["conv_id"])]
