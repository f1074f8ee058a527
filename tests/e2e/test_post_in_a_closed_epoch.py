"""issue 18: a post made before its sender synced (T11: post first) is never
accepted in an epoch that members were added (or removed) after: the hub answers
with an epoch conflict, the sender catches up and encrypts it again, so whoever
the hub delivers it to can read it."""

from __future__ import annotations

import os
from pathlib import Path

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.local_server import LocalServer
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import arrive


async def test_a_post_from_before_an_add_is_readable_by_the_added(
        server: LocalServer, tmp_path: Path) -> None:
    clock = Clock()
    tag = os.urandom(3).hex()
    alice, bob, carol = [await new_device(tmp_path / n, f"{n}{tag}@alpha.test", server.url,
                                          clock) for n in ("alice", "bob", "carol")]
    try:
        conv = await convs.create(alice, "late", [bob.identity.account], clock())
        await arrive(bob, conv["conv_id"], clock)
        bconv = convs.find(bob, conv["conv_id"])
        stale = alice.engine.epoch(bob.store.load_group(bconv["group_id"]))
        assert await convs.add_members(alice, conv, [carol.identity.account], clock())
        # bob has not synced: he encrypts in the epoch before carol's and posts first
        await messaging.send_text(bob, bconv, "hello carol", clock())
        await arrive(carol, conv["conv_id"], clock)
        cconv = convs.find(carol, conv["conv_id"])
        assert "hello carol" in [m.body for m in carol.store.messages(cconv["conv_id"])]
        bconv = bob.store.conversation(conv["conv_id"])
        assert bob.engine.epoch(bob.store.load_group(bconv["group_id"])) > stale  # caught up
        await alice.sync(clock())
        said = [m.body for m in alice.store.messages(conv["conv_id"])]
        assert said.count("hello carol") == 1
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
