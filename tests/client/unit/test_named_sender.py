"""Named senders (issue 22, ``rooms.named_sender``): a device posts under its session only to
a group whose state says so and whose hub is another provider; when its provider's answer
changes (it starts or stops sending room traffic over MIMI), the device follows it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import httpx

from accord.client import conversations as convs
from accord.client import messaging, rooms
from accord.wire import b64d, parse
from accord.wire import messages as m

from .fakes import FakeProvider, error, ok

POSTS = r"/v1/groups/([^/]+)/messages"


def say_state(p: FakeProvider, hub: str, named: bool) -> None:
    """The provider answers the group's state with ``hub`` and ``named_sender``."""

    def state(req: httpx.Request) -> httpx.Response:
        gid = b64d(req.url.path.rsplit("/", 1)[-1])
        g = p.groups[gid]
        return ok(m.GroupState(gid, hub, g.epoch, list(g.members), named_sender=named))

    p.answer("GET", r"/v1/groups/([^/]+)", state)


def take_posts(p: FakeProvider, seen: list[bool], *, need_session: bool,
               name_it: bool) -> None:
    """Posts noted (with a session or not); without one refused when ``need_session``;
    answered with the hub's time when ``name_it`` (a post that went over MIMI)."""

    def post(req: httpx.Request) -> httpx.Response:
        shown = "authorization" in req.headers
        seen.append(shown)
        if need_session and not shown:
            return error(401, "sender_required", "post with the device's session")
        gid = re.fullmatch(POSTS, req.url.path)
        assert gid is not None
        resp = p.post(req, gid[1])
        if not name_it:
            return resp
        answer = parse(m.PostResponse, resp.content)
        return ok(dataclasses.replace(answer, created_at=p.now), 201)

    p.answer("POST", POSTS, post)


async def test_T11_the_device_follows_its_provider_into_and_out_of_named_posts(
        tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    conv = await convs.create(dev, "room", [], p.now)
    gid = conv["group_id"]
    rooms.remember_hub(dev, gid, "beta.test")  # read before its provider ran MIMI
    assert not rooms.named_sender(dev, gid)
    seen: list[bool] = []
    say_state(p, "beta.test", True)
    take_posts(p, seen, need_session=True, name_it=True)
    await messaging.send_text(dev, dev.store.conversation(conv["conv_id"]), "one", p.now)
    assert seen == [False, True]  # refused hidden, read the state again, posted named
    assert rooms.named_sender(dev, gid)
    await messaging.send_text(dev, dev.store.conversation(conv["conv_id"]), "two", p.now)
    assert seen == [False, True, True]

    # the provider went back to Accord's federation: the named post is taken as a hidden
    # one (no hub time in the answer), and the next post is hidden again
    say_state(p, "beta.test", False)
    take_posts(p, seen, need_session=False, name_it=False)
    await messaging.send_text(dev, dev.store.conversation(conv["conv_id"]), "three", p.now)
    assert not rooms.named_sender(dev, gid)
    await messaging.send_text(dev, dev.store.conversation(conv["conv_id"]), "four", p.now)
    assert seen == [False, True, True, True, False]


async def test_T11_a_provider_cannot_make_a_device_name_itself_in_a_group_it_hubs(
        tmp_path: Path) -> None:
    """Its own provider says ``named_sender`` of a group it hubs itself: the device does
    not take it, its posts there stay hidden (the provider would learn who posts)."""
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    conv = await convs.create(dev, "room", [], p.now)
    gid = conv["group_id"]
    dev.store.delete("hub:" + gid.hex())  # read again, from the lying answer
    say_state(p, "alpha.test", True)
    seen: list[bool] = []
    take_posts(p, seen, need_session=False, name_it=False)
    await messaging.send_text(dev, dev.store.conversation(conv["conv_id"]), "hidden", p.now)
    assert seen == [False] and not rooms.named_sender(dev, gid)
