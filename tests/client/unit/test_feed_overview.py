"""The inbox as people see it (``overview``), the live view's news (``feed``) and
search (``search``), for two devices on the in-memory provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import contacts, feed, messaging, overview, search
from accord.client import conversations as convs
from accord.client.api import DeviceRemoved, ServerError
from accord.errors import AuthError, NotFound, ValidationError

from .fakes import NOW, pair


async def test_summaries_count_unread_until_seen_and_archive_hides(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.send_text(alice, ca, "one", NOW + 1)
    await messaging.send_text(alice, ca, "two", NOW + 2)
    await bob.sync(NOW + 3)
    (row,) = overview.summaries(bob)
    assert (row["id"], row["name"], row["unread"], row["request"]) == (
        cb["conv_id"], "hike", 2, False)
    assert row["members"] == ["alice@alpha.test", "bob@alpha.test"]
    assert row["last"] == {"sender": "alice@alpha.test", "text": "two", "at": NOW + 2}
    assert row["cipher_suite"] == "0x0001" and row["post_quantum"] is False
    overview.mark_seen(bob, cb)
    assert overview.summaries(bob)[0]["unread"] == 0
    await messaging.send_text(bob, cb, "mine", NOW + 4)  # our own: never unread
    assert overview.summaries(bob)[0]["unread"] == 0
    overview.set_archived(bob, cb, True)
    assert overview.summaries(bob) == []
    assert [r["id"] for r in overview.summaries(bob, archived=True)] == [cb["conv_id"]]
    assert [r["id"] for r in overview.summaries(bob, archived=None)] == [cb["conv_id"]]


async def test_display_names_travel_encrypted_and_are_shown_beside_the_address(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    assert contacts.display_name(alice) is None
    assert await overview.announce_name(alice, ca, NOW) == 0  # no name: nothing sent
    assert await overview.set_display_name(alice, "  Alice   Liddell ", NOW) == 1
    assert contacts.display_name(alice) == "Alice Liddell"
    assert await overview.announce_name(alice, alice.store.conversation(ca["conv_id"]),
                                        NOW) == 0  # told already
    await bob.sync(NOW)
    assert contacts.label(bob, "alice@alpha.test") == "Alice Liddell (alice@alpha.test)"
    assert contacts.label(bob, "bob@alpha.test") == "you"
    assert contacts.label(bob, "carol@alpha.test") == "carol@alpha.test"
    contacts.set_nickname(bob, "alice@alpha.test", "Al")
    assert contacts.label(bob, "alice@alpha.test") == "Al (alice@alpha.test)"
    assert contacts.resolve_person(bob, "al") == ["alice@alpha.test"]
    assert contacts.resolve_person(bob, "ALICE LIDDELL") == ["alice@alpha.test"]
    assert contacts.resolve_person(bob, "bob@alpha.test") == ["bob@alpha.test"]
    assert contacts.resolve_person(bob, " nobody ") == ["nobody"]
    contacts.set_nickname(bob, "alice@alpha.test", None)
    assert contacts.label(bob, "alice@alpha.test") == "Alice Liddell (alice@alpha.test)"
    with pytest.raises(ValidationError, match="not one of your contacts"):
        contacts.set_nickname(bob, "carol@alpha.test", "C")
    with pytest.raises(ValidationError, match="empty"):
        contacts.set_nickname(bob, "alice@alpha.test", "   \t")
    with pytest.raises(ValidationError, match="at most 64"):
        await overview.set_display_name(bob, "x" * 65, NOW)
    # a name claimed for someone else's account, or our own, is not taken from the group
    contacts.on_profile_name(bob, "bob@alpha.test", "Mallory")
    contacts.on_profile_name(bob, "alice@alpha.test", "   ")
    assert bob.store.contact("alice@alpha.test")["display_name"] == "Alice Liddell"
    assert contacts.display_name(bob) is None


async def test_deleting_locally_leaves_the_group_first(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    assert await overview.delete_local(bob, cb, NOW) is True
    assert bob.store.conversations() == []
    with pytest.raises(NotFound):
        bob.store.load_group(cb["group_id"])
    # bob proposed his own removal; alice commits it at her next sync
    assert [i.kind for i in p.row(alice).queue][-1] == "proposal"
    await alice.sync(NOW + 1)
    assert list(convs.members(alice, alice.store.conversation(ca["conv_id"]))) == [
        "alice@alpha.test"]
    assert p.groups[ca["group_id"]].members == [alice.identity.device_id]


async def test_news_shows_arrivals_edits_reactions_receipts_deletes_and_events(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    seen = feed.load(bob)
    assert feed.load(bob) == seen  # saved the first time
    seen_a = feed.load(alice)
    assert feed.news(bob, seen) == []
    mid = await messaging.send_text(alice, ca, "first draft", NOW + 1)
    await bob.sync(NOW + 2)
    items = feed.news(bob, seen)
    assert [(i["type"], i.get("text")) for i in items] == [("message", "first draft")]
    assert items[0]["chat"] == "hike" and items[0]["sender"] == "alice@alpha.test"
    await messaging.edit(alice, ca, mid, "final text", NOW + 3)
    await messaging.react(alice, ca, mid, "👍", NOW + 4)
    await bob.sync(NOW + 5)
    got = feed.news(bob, seen)
    assert [(i["type"], i.get("text"), i.get("emoji")) for i in got] == [
        ("edit", "final text", None), ("reaction", None, "👍")]
    feed.news(alice, seen_a)  # alice has seen her message, edit and reaction
    await messaging.react(alice, ca, mid, "👍", NOW + 6, remove=True)
    await messaging.mark_read(bob, cb, NOW + 6)
    await bob.sync(NOW + 7)
    await alice.sync(NOW + 7)
    assert [i["type"] for i in feed.news(bob, seen)] == ["reaction_removed"]
    receipts = [(i["type"], i["by"]) for i in feed.news(alice, seen_a)
                if i["type"] == "receipt"]
    assert receipts == [("receipt", ["bob@alpha.test"])]  # bob read alice's message
    await messaging.delete(alice, ca, mid, NOW + 8)
    await bob.sync(NOW + 9)
    assert [i["type"] for i in feed.news(bob, seen)] == ["delete"]
    bob.store.add_event(cb["conv_id"], NOW + 10, "renamed", {"by": "alice@alpha.test",
                                                             "name": "trip"})
    (ev,) = feed.news(bob, seen)
    assert (ev["type"], ev["kind"], ev["text"]) == (
        "event", "renamed", "alice@alpha.test renamed the conversation to 'trip'")
    assert feed.news(bob, seen) == []


async def test_a_first_listen_starts_with_what_was_not_read(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.send_text(alice, ca, "read one", NOW + 1)
    await bob.sync(NOW + 2)
    overview.mark_seen(bob, cb)
    await messaging.send_text(alice, ca, "unread one", NOW + 3)
    await bob.sync(NOW + 4)
    items = feed.news(bob, feed.load(bob))
    assert [i.get("text") for i in items if i["type"] == "message"] == ["unread one"]


class _Listener:
    """Stands in for ``Device.listen``: each call raises the next scripted outcome."""

    def __init__(self, outcomes: list[BaseException | None],
                 clock: list[float] | None = None) -> None:
        self.outcomes = outcomes
        self.calls = 0
        self.clock = clock  # a session that ends normally lasted its idle timeout

    async def __call__(self, now_fn, *, idle_timeout, on_items, on_connected) -> int:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        on_connected()
        on_items([])
        if self.clock is not None:
            self.clock[0] += idle_timeout
        return 0


async def test_follow_backs_off_while_unreachable_and_says_when_it_is_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    clock = [0.0]
    slept: list[float] = []
    status: list[str] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    listener = _Listener([ServerError("down"), OSError("refused"), TimeoutError(), None,
                          ServerError("down again")], clock)
    monkeypatch.setattr(bob, "listen", listener)

    def monotonic() -> float:
        clock[0] += 0.001
        return clock[0]

    await feed.follow(bob, lambda: NOW, lambda items: None, status.append, deadline=60.0,
                      monotonic=monotonic, sleep=sleep)
    assert [round(s) for s in slept[:3]] == [1, 2, 4]  # doubling
    assert status[3] == "reconnected"
    assert round(slept[3]) == 1  # the backoff started again after the reconnection
    assert all(s <= feed.BACKOFF_MAX_S for s in slept)
    assert status[0] == "provider unreachable (ServerError); retrying in 1 s"


async def test_follow_gives_up_when_the_device_is_refused_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)

    async def never(_s: float) -> None:
        raise AssertionError("no sleep on a refusal")

    monkeypatch.setattr(bob, "listen", _Listener([AuthError("stale"), None, AuthError("a"),
                                                  NotFound("b")]))
    with pytest.raises(DeviceRemoved, match="b"):
        await feed.follow(bob, lambda: NOW, lambda items: None, lambda s: None,
                          deadline=10.0, monotonic=lambda: 0.0, sleep=never)
    monkeypatch.setattr(bob, "listen", _Listener([DeviceRemoved("gone")]))
    with pytest.raises(DeviceRemoved, match="gone"):
        await feed.follow(bob, lambda: NOW, lambda items: None, lambda s: None,
                          deadline=10.0, monotonic=lambda: 0.0, sleep=never)


async def test_follow_shows_news_that_arrived_before_it_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    feed.load(bob)
    await messaging.send_text(alice, ca, "while away", NOW + 1)
    await bob.sync(NOW + 2)
    shown: list[list[dict]] = []
    ticks = iter([0.0, 0.0, 100.0, 100.0])
    monkeypatch.setattr(bob, "listen", _Listener([]))

    async def no_sleep(_s: float) -> None:
        return None

    await feed.follow(bob, lambda: NOW, shown.append, lambda s: None, deadline=50.0,
                      monotonic=lambda: next(ticks, 100.0), sleep=no_sleep)
    assert [[i.get("text") for i in batch] for batch in shown] == [["while away"]]


async def test_search_names_the_chat_and_the_sender_and_filters_by_person(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await overview.set_display_name(alice, "Alice", NOW)
    await messaging.send_text(alice, ca, "the hiking trip is on Sunday", NOW + 1)
    await messaging.send_text(bob, cb, "hiking boots ready", NOW + 2)
    await bob.sync(NOW + 3)
    rows = search.search(bob, "hik")
    assert [(r["text"], r["sender_label"]) for r in rows] == [
        ("hiking boots ready", "you"),
        ("the hiking trip is on Sunday", "Alice (alice@alpha.test)")]
    assert rows[0]["chat_label"] == f"hike ({cb['conv_id'][:6]})"
    assert rows[1]["snippet"] == "the hiking trip is on Sunday" and rows[1]["spans"] == [(4, 10)]
    assert [r["text"] for r in search.search(bob, "hik", sender="alice")] == [
        "the hiking trip is on Sunday"]
    assert [r["text"] for r in search.search(bob, "hik", chat=cb["conv_id"][:8])] == [
        "hiking boots ready", "the hiking trip is on Sunday"]
    assert search.search(bob, "hik", until=NOW + 1)[0]["text"] == "the hiking trip is on Sunday"
    with pytest.raises(NotFound):
        search.search(bob, "hik", chat="no such chat")
