"""issue 19, the live view's library: every kind of change becomes one feed item,
what arrived while nobody listened is shown first, and the follow loop backs off
(time as input) and tells a removed device from an unreachable provider."""

from __future__ import annotations

import pytest

from accord.client import conversations as convs
from accord.client import feed, messaging
from accord.client.api import ServerError
from accord.errors import AuthError, NotFound
from tests.federation.groups import arrive


def _kinds(items):
    return [(i["type"], i.get("kind") or i.get("text") or i.get("emoji") or i.get("by"))
            for i in items]


async def test_every_kind_of_change_is_one_item_and_seen_persists(pair) -> None:
    ann, ben, clock = pair
    seen_ann, seen_ben = feed.load(ann), feed.load(ben)
    conv = await convs.create(ann, "feed", [ben.identity.account], clock())
    await arrive(ben, "feed", clock)
    bconv = ben.store.conversation(conv["conv_id"])
    mid = await messaging.send_text(ann, conv, "hello", clock())
    await ben.sync(clock())
    # ann was a stranger: ben accepted her request (T14), one more item
    assert _kinds(feed.news(ben, seen_ben)) == [("message", "hello"), ("event", "joined"),
                                                ("event", "request_accepted")]
    feed.save(ben, seen_ben)
    assert [k for k, _ in _kinds(feed.news(ann, seen_ann))] == ["message", "event", "event"]
    await messaging.edit(ann, conv, mid, "hello!", clock())
    await messaging.react(ann, conv, mid, "+1", clock())
    await messaging.mark_read(ben, bconv, clock())
    await ben.sync(clock())
    # ben restarts: what was seen is in the profile, only the news come
    assert _kinds(feed.news(ben, feed.load(ben))) == [("edit", "hello!"), ("reaction", "+1")]
    await ann.sync(clock())
    assert _kinds(feed.news(ann, seen_ann)) == [  # our own changes show too (other devices)
        ("edit", "hello!"), ("reaction", "+1"), ("receipt", [ben.identity.account])]
    seen_ben = feed.load(ben)
    feed.news(ben, seen_ben)
    feed.save(ben, seen_ben)
    await messaging.react(ann, conv, mid, "+1", clock(), remove=True)
    await ben.sync(clock())
    assert _kinds(feed.news(ben, seen_ben)) == [("reaction_removed", "+1")]
    await messaging.delete(ann, conv, mid, clock())
    await ben.sync(clock())
    assert _kinds(feed.news(ben, seen_ben)) == [("delete", None)]
    feed.save(ben, seen_ben)
    assert feed.news(ben, feed.load(ben)) == []


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


async def test_follow_backs_off_doubling_to_a_cap_and_says_so(pair) -> None:
    ann, _, clock = pair
    t = FakeTime()

    async def down(*a, **kw):
        raise ServerError("cannot reach the provider: ConnectError")

    ann.listen = down
    status: list[str] = []
    await feed.follow(ann, clock, lambda items: None, status.append, deadline=200.0,
                      monotonic=t.monotonic, sleep=t.sleep)
    assert t.slept[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert sum(t.slept) == 200.0  # never past the deadline
    assert status[0] == "provider unreachable (ServerError); retrying in 1 s"


async def test_follow_reconnects_after_an_outage_and_one_refusal_is_not_removal(pair) -> None:
    ann, _, clock = pair
    t = FakeTime()
    script = [ServerError("down"), ServerError("down"), None, AuthError("stale token"), None]

    async def flaky(*a, **kw):
        t.t += 10
        step = script.pop(0) if script else None
        if step is not None:
            raise step
        kw["on_connected"]()
        return 0

    ann.listen = flaky
    status: list[str] = []
    await feed.follow(ann, clock, lambda items: None, status.append, deadline=60.0,
                      monotonic=t.monotonic, sleep=t.sleep)
    assert status[:3] == ["provider unreachable (ServerError); retrying in 1 s",
                          "provider unreachable (ServerError); retrying in 2 s", "reconnected"]
    assert t.slept == [1.0, 2.0]


async def test_follow_raises_device_removed_when_refused_twice(pair) -> None:
    ann, _, clock = pair
    t = FakeTime()

    async def refused(*a, **kw):
        t.t += 1
        raise NotFound("no such device")

    ann.listen = refused
    with pytest.raises(feed.DeviceRemoved) as exc:
        await feed.follow(ann, clock, lambda items: None, lambda s: None, deadline=60.0,
                          monotonic=t.monotonic, sleep=t.sleep)
    assert exc.value.code == "device_removed"
