"""T09 (compromise of a device, now and after), on two live providers.

A thief copies bob's whole profile at time t and knows its passphrase; it
also has every ciphertext the providers relayed (here: read from the queues
before the devices fetch them). With the MLS state at t it can decrypt
neither what bob received before t (forward secrecy: each message key is
deleted once used, RFC 9420 9.2, and an epoch's secrets once it is over),
nor what is sent after bob's next self-update (post-compromise security: the
update's path secrets are fresh and encrypted to the other members only,
RFC 9420 12.4.2), which the device commits by itself (``housekeeping``).

Controls: a copy taken before bob fetched the messages decrypts them, and bob
himself reads the message after the update, so what fails for the thief is
the missing key, not the test.

Not covered by MLS (docs/PRIVACY.md): the history the profile keeps is
readable by whoever unlocks it; disappearing messages bound that.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.device import Device
from accord.content import quarantine_preview
from accord.errors import AccordError
from accord.wire import messages as m
from tests.e2e.helpers import PASS, Clock, engine, new_device
from tests.federation.groups import arrive, bodies
from tests.federation.providers import Provider
from tests.timing import wait_until


async def _queued(dev: Device, kind: str, n: int) -> list[m.QueueItem]:
    """The next ``n`` items of ``kind`` in ``dev``'s queue, as the provider relays them
    (read without being applied or acknowledged)."""

    async def arrived() -> list[m.QueueItem] | None:
        page = await dev.api.fetch(dev.cursor, 100)
        items = [i for i in page.items if i.kind == kind]
        return items[:n] if len(items) >= n else None

    return await wait_until(arrived, 10.0, f"{n} {kind} items")


def _steal(dev: Device, folder: Path) -> Device:
    """A copy of ``dev``'s profile as it is now, opened with the passphrase."""
    shutil.copytree(dev.store.folder, folder)
    return Device.open(folder, PASS, engine=engine())


def _decrypts(thief: Device, group_id: bytes, body: bytes, text: str, now: int) -> bool:
    try:
        r = thief.engine.process(thief.store.load_group(group_id), body, now)
    except AccordError:
        return False
    assert r.plaintext is not None
    return quarantine_preview(r.plaintext).text == text


@pytest.mark.parametrize("pq", [0, 1], ids=["0x0001", "x-wing"])
async def test_T09_a_stolen_state_reads_nothing_before_it_nor_after_the_next_update(
    providers: dict[str, Provider], tmp_path, pq: int
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test",
                             providers["alpha"].url, clock)
    alice.set_settings(post_quantum=pq)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    bob.set_settings(update_every_messages=1)  # bob's next sent message triggers his update
    # and bob sends only that message: no delivery report (issue 22) goes before it
    bob.set_settings(delivery_reports=0)
    thieves: list[Device] = []
    try:
        conv = await convs.create(alice, "t09", [bob.identity.account], clock())
        bconv = await arrive(bob, "t09", clock)
        gid = bconv["group_id"]
        assert bob.engine.cipher_suite(bob.store.load_group(gid)) == (0x53 if pq else 1)
        await messaging.send_text(alice, conv, "hello", clock())
        await bodies(bob, "t09", "hello", clock)  # what alice sent before is applied too
        for text in ("before one", "before two"):
            await messaging.send_text(alice, conv, text, clock())
        before = await _queued(bob, "application", 2)
        early = _steal(bob, tmp_path / "early")  # control: bob has not fetched them yet
        thieves.append(early)
        assert await bodies(bob, "t09", "before two", clock) == [
            "hello", "before one", "before two"]

        thief = _steal(bob, tmp_path / "stolen")  # time t
        thieves.append(thief)
        for item, text in zip(before, ("before one", "before two"), strict=True):
            assert _decrypts(early, gid, item.body, text, clock())
            assert not _decrypts(thief, gid, item.body, text, clock())  # forward secrecy

        # bob's next self-update (housekeeping, T09), then alice writes.
        epoch = bob.engine.epoch(bob.store.load_group(gid))
        await messaging.send_text(bob, convs.find(bob, "t09"), "i am back", clock())
        await bob.sync(clock())
        assert bob.engine.epoch(bob.store.load_group(gid)) == epoch + 1
        assert "key_update" in [e["kind"] for e in bob.store.events(bconv["conv_id"])]
        update = (await _queued(alice, "commit", 1))[0]
        await bodies(alice, "t09", "i am back", clock)
        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "after the update", clock())
        after = (await _queued(bob, "application", 1))[0]

        with pytest.raises(AccordError):  # the update's path secret is not for bob's old keys
            thief.engine.process(thief.store.load_group(gid), update.body, clock())
        assert not _decrypts(thief, gid, after.body, "after the update", clock())  # PCS
        assert "after the update" in await bodies(bob, "t09", "after the update", clock)
    finally:
        for d in (alice, bob):
            await d.disconnect()
        for t in thieves:
            t.close()
