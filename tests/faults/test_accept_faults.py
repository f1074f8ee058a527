"""Accepting a message request on a full disk (issue 18, T14): whole or nothing.

The accept takes the invitation out of the store, parses the Welcome and the
items that waited with it, and stores the conversation. Before, the
invitation left the store first, outside the join's transaction, and a held
item the profile could not store was skipped like a bad one: a full disk lost
the invitation, or what came with it. Now the profile is as before the accept
(the request still pending, every held item still waiting), and the next
accept, with space again, applies everything once.

The disk fills at a chosen write (SQLite's own error for it, SQLITE_FULL):
pinning the profile's size as tests/faults/test_profile_faults.py does cannot
reach this step, since the accept frees more pages (the invitation it takes
out) than the join uses.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from accord.client import conversations as convs
from accord.client import invites, message_requests, messaging
from accord.client.device import Device
from accord.client.store_db import ProfileUnavailable
from tests.e2e.helpers import Clock, new_device
from tests.engine import running
from tests.faults.test_profile_faults import BIG, texts
from tests.federation.groups import until
from tests.federation.providers import Provider


@contextlib.contextmanager
def disk_full_at(dev: Device, write: str, nth: int) -> Iterator[None]:
    """The ``nth`` call of the profile's ``write`` meets a full disk."""
    real = getattr(dev.store, write)
    calls = 0

    def filling(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            raise sqlcipher3.OperationalError("database or disk is full")
        return real(*args, **kwargs)

    setattr(dev.store, write, filling)
    try:
        yield
    finally:
        delattr(dev.store, write)


@pytest.fixture
def providers(tmp_path: Path) -> Iterator[dict[str, Provider]]:
    with running(tmp_path / "providers", ["alpha.test", "beta.test"]) as provs:
        yield provs


@pytest.mark.parametrize(("write", "nth"), [("save_group", 1),  # the Welcome's group
                                           ("add_message", 3)])  # a held message
async def test_a_full_disk_while_accepting_keeps_the_request_and_what_waited(
        tmp_path: Path, providers: dict[str, Provider], write: str, nth: int) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    try:
        conv = await convs.create(alice, "offer", [bob.identity.account], clock())
        sent = [f"{i}:{BIG}" for i in range(6)]
        for text in sent:
            await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]), text,
                                      clock())
        # the name and admins notices the creator sends, then alice's six
        request = (await until(bob, clock, lambda: [
            c for c in message_requests.pending(bob) if invites.held_count(bob, c) == 8]))[0]

        with disk_full_at(bob, write, nth), pytest.raises(ProfileUnavailable, match="disk is full"):
            await message_requests.accept(bob, request, clock())
        assert bob.store._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert bob.store.conversation_of_group(request["group_id"]) is None
        [still] = message_requests.pending(bob)  # the invitation was not lost
        assert still["conv_id"] == request["conv_id"] and invites.held_count(bob, still) == 8

        assert await message_requests.accept(bob, still, clock()) == 8
        assert message_requests.pending(bob) == []
        assert texts(bob, request["conv_id"]) == sent  # each once, in order
    finally:
        for dev in (alice, bob):
            await dev.disconnect()
