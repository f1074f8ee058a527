"""T14, attack surface before consent (issue 18): a stranger's Welcome is not parsed
before the person accepts.

alice (alpha.test) invites bob (beta.test), a stranger; bob's provider lists
the invitation as a message request. Until bob accepts, his device runs no
MLS code on anything of that group: not the Welcome (GroupSecrets, GroupInfo,
ratchet tree), not the commits or messages that follow; they wait as they
came. Accepting joins and applies them in order; blocking drops them unread.
A malformed Welcome from a stranger raises nothing (no error, no alert)
until the accept, which is the first time it is read.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from accord.client import alerts, consent, inbox, invites, message_requests, messaging
from accord.client import conversations as convs
from accord.client.device import Device
from accord.errors import NotFound
from accord.wire import messages as m
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import until
from tests.federation.providers import Provider


def _spy(dev: Device) -> Counter[str]:
    """Count the device's MLS parses of Welcomes and group messages."""
    calls: Counter[str] = Counter()
    for name in ("welcome_key_package_refs", "join", "process"):
        real = getattr(dev.engine, name)

        def counted(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls[_name] += 1
            return _real(*a, **kw)

        setattr(dev.engine, name, counted)
    return calls


async def test_T14_a_strangers_welcome_is_parsed_only_after_accept(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    calls = _spy(bob)
    try:
        conv = await convs.create(alice, "offer", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "hello from a stranger", clock())
        await convs.commit(alice, convs.find(alice, "offer"), clock(), update=True)
        breq = (await until(bob, clock, lambda: [
            c for c in message_requests.pending(bob)
            if invites.held_count(bob, c) == 4]))[0]
        assert invites.is_deferred(breq)
        assert calls == Counter()  # no Welcome, commit or message of the stranger was read
        with pytest.raises(NotFound):
            bob.store.load_group(breq["group_id"])
        assert bob.store.messages(breq["conv_id"]) == []

        assert await message_requests.accept(bob, breq, clock()) == 4
        assert calls["join"] == 1 and calls["process"] == 4
        joined = bob.store.conversation(breq["conv_id"])
        assert not invites.is_deferred(joined) and not consent.is_pending(joined)
        assert [x.body for x in bob.store.messages(breq["conv_id"])] == ["hello from a stranger"]
        assert bob.engine.epoch(bob.store.load_group(breq["group_id"])) == \
            alice.engine.epoch(alice.store.load_group(conv["group_id"]))
        await messaging.send_text(bob, joined, "hi alice", clock())  # a member now
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T14_blocking_a_request_drops_its_welcome_unread(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    mallory = await new_device(tmp_path / "m", f"mallory{tag}@gamma.test",
                               providers["gamma"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    calls = _spy(bob)
    try:
        conv = await convs.create(mallory, "spam", [bob.identity.account], clock())
        await messaging.send_text(mallory, conv, "cheap watches", clock())
        breq = (await until(bob, clock, lambda: [
            c for c in message_requests.pending(bob)
            if invites.held_count(bob, c) >= 2]))[0]
        await message_requests.block(bob, breq, clock())
        cid = breq["conv_id"]
        assert not invites.waiting(bob, breq["group_id"]) and not message_requests.pending(bob)
        await messaging.send_text(mallory, conv, "more", clock())
        await bob.sync(clock())
        assert calls == Counter()  # never read, before or after the block
        assert bob.store.messages(cid) == []
    finally:
        for d in (mallory, bob):
            await d.disconnect()


async def test_T14_a_malformed_welcome_raises_nothing_before_accept(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    """A stranger's (or a hostile hub's) junk Welcome: no error and no alert while it
    waits; the accept is the first parse, and its failure is recorded then."""
    clock, tag = Clock(), os.urandom(3).hex()
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    calls = _spy(bob)
    gid = os.urandom(16)
    try:
        # what bob's provider said in GET /v1/requests (consent.refresh)
        bob.store.put_json("message_requests", {gid.hex(): f"mallory{tag}@gamma.test"})
        junk = m.QueueItem(seq=bob.cursor + 1, msg_id="w1", kind="welcome",
                           body=b"\x00\x01" + os.urandom(200), created_at=clock(),
                           group_id=gid, epoch=1, sender="dev-m")
        inbox._apply_whole(bob, junk, clock())
        breq = message_requests.pending(bob)[0]
        assert calls == Counter() and alerts.all_alerts(bob.store) == []
        assert bob.store.conversations() == []  # nothing but the waiting record
        assert message_requests.apply_held(bob, breq, clock()) == 0  # the accept
        assert calls["welcome_key_package_refs"] == 1
        events = bob.store.events(breq["conv_id"])
        assert [e["kind"] for e in events] == ["error", "request_accepted"]
        assert not bob.store.conversation(breq["conv_id"])["meta"]["active"]
    finally:
        await bob.disconnect()
