"""Issue 19, the inbox: unread counts and order, archive, local deletion, display
names (end to end encrypted) and nicknames, against a real provider process."""

from __future__ import annotations

import asyncio
import json

import pytest

from accord.client import contacts, messaging, overview
from accord.client import conversations as convs
from accord.errors import ValidationError
from tests.e2e.helpers import Clock, fresh_account, new_device, run_cli
from tests.federation.groups import arrive


async def test_unread_counts_newest_first_and_mark_seen(pair) -> None:
    ann, ben, clock = pair
    old = await convs.create(ann, "old", [ben.identity.account], clock())
    new = await convs.create(ann, "new", [ben.identity.account], clock())
    await arrive(ben, "new", clock)
    ben_old = ben.store.conversation(old["conv_id"])
    await messaging.send_text(ben, ben_old, "one", clock())
    await messaging.send_text(ben, ben_old, "two", clock())
    await ann.sync(clock())
    rows = overview.summaries(ann)
    assert [r["name"] for r in rows] == ["old", "new"]  # newest activity first
    assert [r["unread"] for r in rows] == [2, 0]
    assert rows[0]["members"] == sorted([ann.identity.account, ben.identity.account])
    assert rows[0]["request"] is False
    await messaging.send_text(ann, old, "mine", clock())  # our own posts are never unread
    assert overview.summaries(ann)[0]["unread"] == 2
    overview.mark_seen(ann, old)
    assert overview.summaries(ann)[0]["unread"] == 0
    await messaging.send_text(ben, ben_old, "three", clock())
    await ann.sync(clock())
    assert overview.summaries(ann)[0]["unread"] == 1
    del new


async def test_archive_hides_and_delete_leaves_and_forgets(pair) -> None:
    ann, ben, clock = pair
    conv = await convs.create(ann, "gone", [ben.identity.account], clock())
    await arrive(ben, "gone", clock)
    overview.set_archived(ann, conv, True)
    assert [r["name"] for r in overview.summaries(ann)] == []
    assert [r["name"] for r in overview.summaries(ann, archived=True)] == ["gone"]
    overview.set_archived(ann, conv, False)
    assert [r["name"] for r in overview.summaries(ann)] == ["gone"]
    assert await overview.delete_local(ann, conv, clock()) is True
    assert ann.store.conversations() == []
    await ben.sync(clock())  # the others are told: ann left
    events = [e["kind"] for e in ben.store.events(conv["conv_id"])]
    assert "member_left" in events


async def test_display_name_travels_encrypted_and_nickname_is_local(pair, server) -> None:
    ann, ben, clock = pair
    await convs.create(ann, "hello", [ben.identity.account], clock())
    await arrive(ben, "hello", clock)
    assert contacts.label(ben, ann.identity.account) == ann.identity.account
    assert await overview.set_display_name(ann, "  Ann   Smith ", clock()) == 1
    await ben.sync(clock())
    assert contacts.label(ben, ann.identity.account) == f"Ann Smith ({ann.identity.account})"
    assert contacts.resolve_person(ben, "ann smith") == [ann.identity.account]
    # a conversation made later, and a member added later, learn it after a sync
    carol = await new_device(ben.store.folder.parent / "carol", fresh_account("carol"),
                             server.url, clock)
    later = await convs.create(ann, "later", [carol.identity.account], clock())
    await ann.sync(clock())
    await arrive(carol, "later", clock)  # T14: ann is a stranger to carol
    assert contacts.label(carol, ann.identity.account) == f"Ann Smith ({ann.identity.account})"
    await ann.sync(clock())
    assert await overview.announce_name(ann, ann.store.conversation(later["conv_id"]),
                                        clock()) == 0  # told once, not at every sync
    await carol.disconnect()
    contacts.set_nickname(ben, ann.identity.account, "Sis")
    assert contacts.label(ben, ann.identity.account) == f"Sis ({ann.identity.account})"
    assert contacts.resolve_person(ben, "sis") == [ann.identity.account]
    with pytest.raises(ValidationError) as exc:
        contacts.set_nickname(ben, "nobody@alpha.test", "x")
    assert exc.value.rule == "contact"
    with pytest.raises(ValidationError) as exc:
        await overview.set_display_name(ann, "   ", clock())
    assert exc.value.rule == "name"


async def test_a_pending_request_is_marked_with_its_sender(pair) -> None:
    ann, ben, clock = pair
    conv = await convs.create(ann, "hi", [ben.identity.account], clock())
    await arrive(ben, "hi", clock)
    theirs = ben.store.conversation(conv["conv_id"])
    assert overview.summaries(ben)[0]["request"] is False
    # as consent.on_join records a stranger's invitation (T14)
    meta = dict(theirs["meta"], request={"from": ann.identity.account, "state": "pending"})
    ben.store.update_conversation(theirs["conv_id"], meta=meta)
    (row,) = overview.summaries(ben)
    assert (row["request"], row["request_from"]) == (True, ann.identity.account)
    # a stranger's Welcome waiting unparsed (T14, client.invites) is listed too
    ben.store.put_json("invites", {"ab" * 16: {"from": "zed@beta.test", "at": clock() + 5000,
                                               "welcome": "", "held": ["", ""]}})
    first = overview.summaries(ben)[0]
    assert (first["request_from"], first["unread"], first["id"]) == ("zed@beta.test", 2,
                                                                     "ab" * 8)


def _flat(text: str) -> str:
    return " ".join(text.split())  # the terminal width wraps lines


def _ok(profile, *args: str) -> str:
    proc = run_cli(profile, *args)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def _js(profile, *args: str):
    return json.loads(_ok(profile, *args, "--json"))


def test_cli_chat_list_read_by_and_delete(server, tmp_path) -> None:
    """``chat list``, ``read``, ``contacts nick``, ``react``, ``search`` and ``chat delete``
    as real ``accord`` processes on the profiles the library set up."""
    clock = Clock()
    accts = {}

    async def setup() -> None:
        ann = await new_device(tmp_path / "ann", fresh_account("ann"), server.url, clock)
        ben = await new_device(tmp_path / "ben", fresh_account("ben"), server.url, clock)
        accts.update(ann=ann.identity.account, ben=ben.identity.account)
        conv = await convs.create(ann, "club", [ben.identity.account], clock())
        await arrive(ben, "club", clock)
        await messaging.send_text(ben, ben.store.conversation(conv["conv_id"]), "hi ann",
                                  clock())
        await overview.set_display_name(ben, "Benjamin", clock())
        for d in (ann, ben):
            await d.disconnect()
            d.close()

    asyncio.run(setup())
    ann, ben = tmp_path / "ann", tmp_path / "ben"
    (row,) = _js(ann, "chat", "list")
    assert (row["name"], row["unread"]) == ("club", 1)
    assert sorted(row["member_labels"]) == sorted(["you", f"Benjamin ({accts['ben']})"])
    human = _ok(ann, "chat", "list")
    assert "1 unread" in human and "Benjamin" in human
    assert row["cipher_suite"] is not None
    assert "hi ann" in _ok(ann, "read", "club")
    assert _js(ann, "chat", "list")[0]["unread"] == 0
    _ok(ann, "contacts", "nick", accts["ben"], "Benji")
    (contact,) = _js(ann, "contacts")
    assert (contact["nick"], contact["display_name"]) == ("Benji", "Benjamin")
    mid = _js(ann, "read", "club")["items"][-1]["short_id"]
    _ok(ann, "react", "club", mid, "+1")
    theirs = _flat(_ok(ben, "read", "club"))
    assert f"read by {accts['ann']}" in theirs  # who read it and who reacted
    assert f"+1 by {accts['ann']}" in theirs
    mine = _flat(_ok(ann, "read", "club"))
    assert f"Benji ({accts['ben']}): hi ann" in mine and "+1 by you" in mine
    # search: a prefix, the sender by display name or nickname, the room by title + id
    for who in ("Benjamin", "benji", accts["ben"]):
        (hit,) = _js(ann, "search", "an", "--sender", who)
        assert hit["text"] == "hi ann" and hit["chat_label"].startswith("club (")
        assert hit["chat_id"].startswith(hit["chat_label"][6:-1])
        assert [hit["snippet"][a:b] for a, b in hit["spans"]] == ["ann"]
    assert _js(ann, "search", "an", "--sender", "you") == []
    no = run_cli(ann, "chat", "delete", "club", input="n\n")
    assert no.returncode == 1 and "Delete club" in no.stdout
    assert len(_js(ann, "chat", "list")) == 1
    yes = run_cli(ann, "chat", "delete", "club", "--yes")
    assert yes.returncode == 0 and "you left it" in yes.stdout
    assert _js(ann, "chat", "list") == []
