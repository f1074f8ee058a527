"""The client library (``accord.client``) in a conversation across two providers.

Real devices (encrypted profile, real MLS engine) on alpha.test and beta.test,
each talking only to its own provider; the providers federate.
"""

from __future__ import annotations

from accord.client import conversations as convs
from accord.client import messaging
from tests.e2e.helpers import Clock
from tests.federation.groups import arrive, bodies, people, until
from tests.federation.providers import Provider


async def test_client_devices_converse_across_providers(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    alice, bob = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta")
    devices = [alice, bob]
    try:
        conv = await convs.create(alice, "across", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "hello beta", clock())
        bconv = await arrive(bob, "across", clock)
        # the message follows the Welcome through the outbox
        msgs = await until(bob, clock, lambda: bob.store.messages(bconv["conv_id"]))
        assert [x.body for x in msgs] == ["hello beta"]
        assert msgs[0].sender == alice.identity.account

        # bob answers; then alice adds carol of a third provider; all three talk.
        await messaging.send_text(bob, bconv, "hello alpha", clock())
        (carol,) = await people(tmp_path, providers, clock, "carol@gamma")
        devices.append(carol)
        await alice.sync(clock())
        await convs.add_members(alice, alice.store.conversation(conv["conv_id"]),
                                [carol.identity.account], clock())
        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "welcome carol", clock())
        cconv = await arrive(carol, "across", clock)
        await messaging.send_text(carol, cconv, "hello all", clock())
        # bob learns that carol is in (a commit ordered by the hub)
        await until(bob, clock, lambda: carol.identity.account in convs.members(
            bob, convs.find(bob, "across")))
        await messaging.send_text(bob, convs.find(bob, "across"), "hi carol", clock())
        for dev in (alice, bob, carol):
            await bodies(dev, "across", "hello all", clock)
            texts = await bodies(dev, "across", "hi carol", clock)
            assert {"welcome carol", "hello all", "hi carol"} <= set(texts), (dev, texts)
        a_members = convs.members(alice, alice.store.conversation(conv["conv_id"]))
        assert a_members == convs.members(carol, cconv)
    finally:
        for d in devices:
            await d.disconnect()
