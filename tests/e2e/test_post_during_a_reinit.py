"""issue 18 (T10): a post sent while a conversation moves to a new group by ReInit
(RFC 9420 11.2) is never lost. The hub closes the old group once it took the ReInit
commit (``GroupMoved``); the sender catches up and sends in the new group, or keeps
the message in its outbox until it has joined it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from accord.client import conversations as convs
from accord.client import messaging, reinit
from accord.client.local_server import LocalServer
from accord.client.mls_session import PQ_SUITE
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import arrive


async def _pair(server: LocalServer, tmp_path: Path, clock: Clock) -> tuple[Any, Any, str]:
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "alice", f"alice{tag}@alpha.test", server.url, clock)
    alice.set_settings(post_quantum=0)  # the conversation starts in 0x0001, to be moved
    bob = await new_device(tmp_path / "bob", f"bob{tag}@alpha.test", server.url, clock)
    conv = await convs.create(alice, "moving", [bob.identity.account], clock())
    await arrive(bob, "moving", clock)
    return alice, bob, conv["conv_id"]


def _bodies(dev: Any, conv_id: str) -> list[str]:
    return [m.body for m in dev.store.messages(conv_id)]


async def test_a_post_into_the_old_group_goes_to_the_new_one(
        server: LocalServer, tmp_path: Path) -> None:
    clock = Clock()
    alice, bob, conv_id = await _pair(server, tmp_path, clock)
    try:
        await reinit.upgrade(alice, alice.store.conversation(conv_id), clock())  # all 3 steps
        # bob has not synced: he encrypts for the old group, which the hub closed
        await messaging.send_text(bob, bob.store.conversation(conv_id), "during the move",
                                  clock())
        assert bob.store.outbox(conv_id) == []  # delivered, not kept
        await alice.sync(clock())
        assert _bodies(alice, conv_id) == ["during the move"]
        moved = bob.store.conversation(conv_id)
        assert bob.engine.cipher_suite(bob.store.load_group(moved["group_id"])) == PQ_SUITE
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_a_post_while_the_new_group_is_not_there_waits_in_the_outbox(
        server: LocalServer, tmp_path: Path) -> None:
    """The mover committed the ReInit and stopped before creating the new group."""
    clock = Clock()
    alice, bob, conv_id = await _pair(server, tmp_path, clock)
    try:
        aconv = alice.store.conversation(conv_id)
        assert await convs.commit(alice, aconv, clock(), reinit=(os.urandom(16), PQ_SUITE))
        await messaging.send_text(bob, bob.store.conversation(conv_id), "kept", clock())
        (item,) = bob.store.outbox(conv_id)
        assert item.state == "pending" and "moving to a new group" in item.error
        await reinit.upgrade(alice, alice.store.conversation(conv_id), clock())  # finished
        clock.t += 3_600_000  # past the outbox's backoff
        await bob.sync(clock())  # joins the new group, then the outbox sends there
        assert bob.store.outbox(conv_id) == []
        await alice.sync(clock())
        assert _bodies(alice, conv_id) == ["kept"]
    finally:
        for d in (alice, bob):
            await d.disconnect()
