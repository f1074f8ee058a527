"""Device lifecycle (issue 19) on a real provider process: linking a device as a
non-admin member, the history a linked device gets, restore and removal."""

from __future__ import annotations

import os

from accord.client import conversations as convs
from accord.client import linking, messaging
from accord.client.device import Device
from tests.e2e.helpers import Clock, new_device


def _acct(name: str) -> str:
    return f"{name}{os.urandom(3).hex()}@alpha.test"


def _events(dev: Device, name: str, kind: str) -> list[dict]:
    return [e["detail"] for e in dev.store.events(convs.find(dev, name)["conv_id"])
            if e["kind"] == kind]


async def _link(existing: Device, new: Device, url: str, clock: Clock) -> str:
    slot = await linking.open_slot(existing, clock())
    await linking.join(new, slot.code, url)
    answer = await linking.poll_answer(existing, slot)
    assert answer is not None
    device_id = await linking.certify(existing, slot, answer)
    assert await new.complete_link(clock()) is not None
    return device_id


async def test_a_non_admin_links_a_device_without_a_policy_alert(server, tmp_path) -> None:
    """A member may add devices of its own account (PROTOCOL.md room policy): nobody
    sees "tried to change the room", and the linked device credits the rename to
    the admin who made it, not to the member who added it."""
    clock = Clock()
    alice = await new_device(tmp_path / "a", _acct("alice"), server.url, clock)
    bob = await new_device(tmp_path / "b", _acct("bob"), server.url, clock)
    laptop = await new_device(tmp_path / "laptop", None, server.url, clock)
    devs = [alice, bob, laptop]
    try:
        conv = await convs.create(alice, "room", [bob.identity.account], clock())
        await convs.rename(alice, conv, "harbour", clock())
        await messaging.send_text(alice, convs.find(alice, "harbour"), "hello", clock())
        await bob.sync(clock())
        assert convs.find(bob, "harbour")["meta"]["admins"] == [alice.identity.account]

        device_id = await _link(bob, laptop, server.url, clock)
        await linking.add_to_conversations(bob, device_id, clock())
        for _ in range(2):
            for d in devs:
                await d.sync(clock())

        for d in devs:
            assert _events(d, "harbour", "security") == [], d.identity.account
        # The linked device is in, knows the name and the admins...
        lconv = convs.find(laptop, "harbour")
        assert lconv["meta"]["admins"] == [alice.identity.account]
        assert [m.body for m in laptop.store.messages(lconv["conv_id"])] == ["hello"]
        # ...and the rename is alice's, as on bob's device, never bob's.
        renames = _events(laptop, "harbour", "renamed")
        assert [r["by"] for r in renames] == [alice.identity.account]
        assert [r["by"] for r in _events(bob, "harbour", "renamed")] == \
            [alice.identity.account]
    finally:
        for d in devs:
            await d.disconnect()
