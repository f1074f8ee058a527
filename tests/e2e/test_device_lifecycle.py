"""Device lifecycle (issue 19) on a real provider process: linking a device as a
non-admin member, the history a linked device gets, restore and removal."""

from __future__ import annotations

import os

from accord.client import alerts, backup, device_kt, linking, messaging, safety
from accord.client import conversations as convs
from accord.client.device import Device
from accord.client.device_core import Settings
from accord.privacy.backup_format import KdfCost, new_recovery_key
from accord.wire import b64e
from tests.e2e.helpers import CHEAP, PASS, Clock, engine, fresh_account, new_device
from tests.federation.groups import arrive

COST = KdfCost(time_cost=1, memory_kib=8 * 1024, parallelism=1)


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
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    bob = await new_device(tmp_path / "b", fresh_account("bob"), server.url, clock)
    laptop = await new_device(tmp_path / "laptop", None, server.url, clock)
    devs = [alice, bob, laptop]
    try:
        conv = await convs.create(alice, "room", [bob.identity.account], clock())
        await convs.rename(alice, conv, "harbour", clock())
        await messaging.send_text(alice, convs.find(alice, "harbour"), "hello", clock())
        await arrive(bob, "harbour", clock)
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


async def test_restore_replaces_the_device_in_its_groups_and_can_be_restored_again(
        server, tmp_path) -> None:
    """The backed-up device's leaf leaves every group and the restored device joins,
    in one commit by a member who is not an admin: the members see a device replaced,
    no security event and no alert; the provider's copy restores again afterwards."""
    clock = Clock()
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    bob = await new_device(tmp_path / "b", fresh_account("bob"), server.url, clock)
    carol = await new_device(tmp_path / "c", fresh_account("carol"), server.url, clock)
    devs = [alice, bob, carol]
    try:
        conv = await convs.create(alice, "harbour", [bob.identity.account,
                                                     carol.identity.account], clock())
        await messaging.send_text(alice, conv, "before the restore", clock())
        await arrive(bob, "harbour", clock)
        await arrive(carol, "harbour", clock)
        old_id = alice.identity.device_id
        key = new_recovery_key(os.urandom)
        await backup.upload(alice, backup.create(alice, clock(), key, COST), key)
        await alice.disconnect()

        fresh = Device.init(tmp_path / "a2", PASS, engine=engine(), kdf=CHEAP)
        devs.append(fresh)
        doc = backup.read(await backup.download(server.url, key), key)
        assert await backup.restore(fresh, doc, key, clock(), reseal=True, cost=COST) >= 1
        new_id = fresh.identity.device_id
        assert not convs.find(fresh, "harbour")["meta"]["active"]

        # one member commits (the smallest identity of another account), the other applies
        first, second = sorted([bob, carol], key=lambda d: d.identity.mls_identity)
        clock.t += Settings().device_check_ms  # the next directory refresh is due
        await second.sync(clock())
        assert _events(second, "harbour", "device_replaced") == []  # not its turn
        await first.sync(clock())
        await second.sync(clock())
        for d in (bob, carol):
            members = convs.members(d, convs.find(d, "harbour"))
            assert members[alice.identity.account] == [new_id]  # old leaf out, new one in
            assert _events(d, "harbour", "security") == []
            assert _events(d, "harbour", "device_replaced") == [
                {"account": alice.identity.account, "by": first.identity.account,
                 "old": [old_id], "new": [new_id]}]
            assert alerts.all_alerts(d.store) == []

        await arrive(fresh, "harbour", clock)
        assert convs.find(fresh, "harbour")["meta"]["active"]  # back in, history kept
        await messaging.send_text(bob, convs.find(bob, "harbour"), "welcome back", clock())
        fconv = await arrive(fresh, "harbour", clock)
        assert [m.body for m in fresh.store.messages(fconv["conv_id"])] == \
            ["before the restore", "welcome back"]
        await messaging.send_text(fresh, fconv, "thanks", clock())
        await arrive(bob, "harbour", clock)
        assert [m.body for m in bob.store.messages(convs.find(bob, "harbour")["conv_id"])][-1] \
            == "thanks"
        assert _events(fresh, "harbour", "security") == []

        # the provider's copy (resealed for the restored device) restores once more
        again = Device.init(tmp_path / "a3", PASS, engine=engine(), kdf=CHEAP)
        devs.append(again)
        doc2 = backup.read(await backup.download(server.url, key), key)
        assert doc2["device_id"] == new_id
        await backup.restore(again, doc2, key, clock(), reseal=True, cost=COST)
        assert again.identity.account == alice.identity.account
    finally:
        for d in devs:
            await d.disconnect()


async def test_a_restore_is_no_key_change_for_a_verified_contact_or_the_own_devices(
        server, tmp_path) -> None:
    """The backed-up key names the restored device its successor in the transparency
    log (issue 19): bob, who verified alice, replaces her dead leaf with the new one,
    keeps the verification and sends without a confirmation; alice's phone takes the
    new key as hers. Neither gets an alert."""
    clock = Clock()
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    bob = await new_device(tmp_path / "b", fresh_account("bob"), server.url, clock)
    phone = await new_device(tmp_path / "phone", None, server.url, clock)
    devs = [alice, bob, phone]
    a_acct = alice.identity.account
    try:
        # The phone is linked after the conversation began and not added to it, so bob
        # is the one to replace alice's dead leaf (device_replace.committer): his
        # key-change gate sees alice's new key before any sync showed it to him.
        conv = await convs.create(alice, "harbour", [bob.identity.account], clock())
        await _link(alice, phone, server.url, clock)
        await arrive(bob, "harbour", clock)
        for d in (bob, phone):  # alice does not sync: she would add the phone
            await d.sync(clock())
            await device_kt.after_sync(d, clock(), force=True)
        async with device_kt.checker(bob) as kc:
            await kc.current_entry(a_acct, clock())
        safety.mark_verified(bob, a_acct)
        assert [alerts.all_alerts(d.store) for d in devs] == [[], [], []]

        key = new_recovery_key(os.urandom)
        await backup.upload(alice, backup.create(alice, clock(), key, COST), key)
        await alice.disconnect()
        fresh = Device.init(tmp_path / "a2", PASS, engine=engine(), kdf=CHEAP)
        devs.append(fresh)
        doc = backup.read(await backup.download(server.url, key), key)
        await backup.restore(fresh, doc, key, clock(), reseal=True, cost=COST)

        clock.t += Settings().device_check_ms  # the phone replaces the old leaf
        for _ in range(2):
            for d in (phone, bob, fresh):
                await d.sync(clock())
                await device_kt.after_sync(d, clock(), force=True)
        bconv = convs.find(bob, "harbour")
        assert fresh.signature_public_key in \
            {mb.signature_key for mb in bob.engine.members(bob.store.load_group(conv["group_id"]))}
        for d in (bob, phone, fresh):
            assert alerts.all_alerts(d.store) == [], d.identity.account
        # approved by the phone as the old key's successor
        assert b64e(fresh.signature_public_key) in phone.store.get_json("kt:own_keys")
        assert safety.changed_contacts(bob, bconv, clock()) == []
        await messaging.send_text(bob, bconv, "no confirmation needed", clock())
        assert bob.store.get_json("safety:" + a_acct) is not None  # still verified
    finally:
        for d in devs:
            await d.disconnect()


async def test_a_restore_rejoins_the_conversations_it_was_alone_in(server, tmp_path) -> None:
    """Notes to self, and a group everyone else left, have nobody to add the restored
    device back (issue 19): they continue at once in a new group of the restored
    device, with their history; a group with another member waits for that member."""
    clock = Clock()
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    bob = await new_device(tmp_path / "b", fresh_account("bob"), server.url, clock)
    devs = [alice, bob]
    try:
        notes = await convs.create(alice, "notes", [], clock())
        await messaging.send_text(alice, notes, "remember the milk", clock())
        empty = await convs.create(alice, "emptied", [bob.identity.account], clock())
        await convs.create(alice, "shared", [bob.identity.account], clock())
        await arrive(bob, "emptied", clock)
        await convs.leave(bob, convs.find(bob, "emptied"), clock())
        await arrive(alice, "emptied", clock)
        assert convs.members(alice, convs.find(alice, "emptied")) == \
            {alice.identity.account: [alice.identity.device_id]}
        later = await convs.create(alice, "later", [], clock())
        key = new_recovery_key(os.urandom)
        await backup.upload(alice, backup.create(alice, clock(), key, COST), key)
        # After the backup, bob joins "later": the hub's roster, not the backup's, decides.
        await convs.add_members(alice, later, [bob.identity.account], clock())
        await alice.disconnect()

        fresh = Device.init(tmp_path / "a2", PASS, engine=engine(), kdf=CHEAP)
        devs.append(fresh)
        doc = backup.read(await backup.download(server.url, key), key)
        await backup.restore(fresh, doc, key, clock(), reseal=True, cost=COST)
        assert not convs.find(fresh, "later")["meta"]["active"]
        me = {fresh.identity.account: [fresh.identity.device_id]}
        for name in ("notes", "emptied"):
            conv = convs.find(fresh, name)
            assert conv["meta"]["active"], name
            assert convs.members(fresh, conv) == me
            assert [e["kind"] for e in fresh.store.events(conv["conv_id"])][-1] == "rejoined"
        assert convs.find(fresh, "notes")["conv_id"] == notes["conv_id"]
        assert convs.find(fresh, "emptied")["conv_id"] == empty["conv_id"]
        assert not convs.find(fresh, "shared")["meta"]["active"]  # bob adds it back

        conv = convs.find(fresh, "notes")
        await messaging.send_text(fresh, conv, "and the eggs", clock())
        await fresh.sync(clock())
        assert [m.body for m in fresh.store.messages(conv["conv_id"])] == \
            ["remember the milk", "and the eggs"]
        assert alerts.all_alerts(fresh.store) == []
    finally:
        for d in devs:
            await d.disconnect()
