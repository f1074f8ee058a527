"""The client library (``accord.client``) in a conversation across two providers.

Real devices (encrypted profile, real MLS engine) on alpha.test and beta.test,
each talking only to its own provider; the providers federate.
"""

from __future__ import annotations

import asyncio
import os

from accord.client import conversations as convs
from accord.client import message_requests, messaging
from accord.errors import NotFound
from tests.e2e.helpers import Clock, new_device
from tests.federation.providers import Provider


async def _wait_conv(dev, clock):  # type: ignore[no-untyped-def]
    """Sync (bounded) until the conversation has arrived through the providers."""
    for _ in range(100):
        await dev.sync(clock())
        for request in message_requests.pending(dev):  # T14: first contact across providers
            await message_requests.accept(dev, request, clock())
        try:
            return convs.find(dev, "across")
        except NotFound:
            await asyncio.sleep(0.1)
    raise AssertionError("the conversation never arrived")


async def test_client_devices_converse_across_providers(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test",
                             providers["alpha"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    devices = [alice, bob]
    try:
        conv = await convs.create(alice, "across", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "hello beta", clock())
        bconv = await _wait_conv(bob, clock)
        for _ in range(100):  # the message follows the Welcome through the outbox
            msgs = bob.store.messages(bconv["conv_id"])
            if msgs:
                break
            await asyncio.sleep(0.1)
            await bob.sync(clock())
        assert [x.body for x in msgs] == ["hello beta"]
        assert msgs[0].sender == alice.identity.account

        # bob answers; then alice adds carol of a third provider; all three talk.
        await messaging.send_text(bob, bconv, "hello alpha", clock())
        carol = await new_device(tmp_path / "c", f"carol{tag}@gamma.test",
                                 providers["gamma"].url, clock)
        devices.append(carol)
        await alice.sync(clock())
        await convs.add_members(alice, alice.store.conversation(conv["conv_id"]),
                                [carol.identity.account], clock())
        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "welcome carol", clock())
        cconv = await _wait_conv(carol, clock)
        await messaging.send_text(carol, cconv, "hello all", clock())
        for _ in range(100):  # bob learns that carol is in (a commit ordered by the hub)
            await bob.sync(clock())
            if carol.identity.account in convs.members(bob, convs.find(bob, "across")):
                break
            await asyncio.sleep(0.1)
        await messaging.send_text(bob, convs.find(bob, "across"), "hi carol", clock())
        for dev in (alice, bob, carol):
            for _ in range(100):
                await dev.sync(clock())
                c = convs.find(dev, "across")
                bodies = [x.body for x in dev.store.messages(c["conv_id"])]
                if "hello all" in bodies and "hi carol" in bodies:
                    break
                await asyncio.sleep(0.1)
            assert {"welcome carol", "hello all", "hi carol"} <= set(bodies), (dev, bodies)
        a_members = convs.members(alice, alice.store.conversation(conv["conv_id"]))
        assert a_members == convs.members(carol, cconv)
    finally:
        for d in devices:
            await d.disconnect()
