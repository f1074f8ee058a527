"""The device's profile on a full disk, while it receives and while it sends.

SQLite itself answers SQLITE_FULL (``max_page_count`` pinned to the profile's size,
as a full disk does) and rolls the step back. The user gets a typed error; what was
being received stays in the provider's queue (nothing was acknowledged), what was
being sent was not sent; the profile is intact, and the next run, with space again,
receives every message once and in order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.device import Device
from accord.client.store_db import ProfileUnavailable
from tests.e2e.helpers import PASS, Clock, engine, new_device
from tests.federation.groups import arrive
from tests.harness import ServerProcess

BIG = "x" * 3000  # several of these need new pages in the profile


@contextlib.contextmanager
def full_disk(dev: Device) -> Iterator[None]:
    db = dev.store._conn()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        db.execute("PRAGMA max_page_count = 4294967294")


def texts(dev: Device, conv_id: str) -> list[str]:
    return [m.body for m in dev.store.messages(conv_id)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "provider").start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_full_disk_while_receiving_loses_nothing_and_the_next_run_recovers(
        tmp_path: Path, server: ServerProcess) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", server.url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", server.url, clock)
    try:
        conv = await convs.create(alice, "full", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "first", clock())
        bconv = await arrive(bob, "full", clock)  # a stranger's first contact: accepted
        assert texts(bob, bconv["conv_id"]) == ["first"]
        sent = [f"{i}:{BIG}" for i in range(6)]
        for text in sent:
            await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]), text,
                                      clock())
        cursor = bob.cursor
        with full_disk(bob), pytest.raises(ProfileUnavailable, match="disk is full"):
            await bob.sync(clock(), housekeep=False)
        # Nothing was acknowledged: every item after the last one kept is still queued.
        queued = await bob.api.fetch(bob.cursor, 100)
        assert bob.cursor >= cursor and len(queued.items) >= 1
        kept = texts(bob, bconv["conv_id"])
        assert kept == ["first", *sent[:len(kept) - 1]]  # whole items only, in order
        await bob.disconnect()
        bob.close()

        bob = Device.open(tmp_path / "b", PASS, engine=engine())  # the next run
        assert bob.store._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        await bob.connect(now=clock())
        await bob.sync(clock())
        assert texts(bob, bconv["conv_id"]) == ["first", *sent]  # each once, in order
    finally:
        for dev in (alice, bob):
            await dev.disconnect()


async def test_a_full_disk_while_sending_sends_nothing_and_the_next_try_does(
        tmp_path: Path, server: ServerProcess) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", server.url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", server.url, clock)
    try:
        conv = await convs.create(alice, "full", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "first", clock())
        with full_disk(alice), pytest.raises(ProfileUnavailable, match="disk is full"):
            for i in range(6):  # until the profile has no room for what it keeps of a send
                await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                          f"{i}:{BIG}", clock())
        shown = texts(alice, conv["conv_id"])
        assert alice.store._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]), "again",
                                  clock())
        received = texts(bob, (await arrive(bob, "full", clock))["conv_id"])
        assert received == [*shown, "again"], "the refused send reached bob, or one was lost"
    finally:
        for dev in (alice, bob):
            await dev.disconnect()
