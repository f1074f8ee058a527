"""The duties after a sync (``housekeeping``): removals of members who left, our own key
updates on schedule (T09), devices of ours added or removed, and a failing duty that
does not stop the others, on the in-memory provider."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import housekeeping, messaging
from accord.client.mls_session import identity_of
from accord.errors import NotFound

from .fakes import NOW, pair

ALICE, BOB = "alice@alpha.test", "bob@alpha.test"


async def test_T09_our_leaf_is_updated_after_enough_messages(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    alice.set_settings(update_every_messages=2)
    meta = dict(alice.store.conversation(ca["conv_id"])["meta"], sent_since_update=0,
                last_update=NOW)  # the room's announcements counted too: start afresh
    alice.store.update_conversation(ca["conv_id"], meta=meta)
    epoch = p.groups[ca["group_id"]].epoch
    await messaging.send_text(alice, ca, "one", NOW + 1)
    await housekeeping.run(alice, NOW + 2)
    assert p.groups[ca["group_id"]].epoch == epoch  # not yet
    await messaging.send_text(alice, ca, "two", NOW + 3)
    await housekeeping.run(alice, NOW + 4)
    assert p.groups[ca["group_id"]].epoch == epoch + 1
    assert alice.store.conversation(ca["conv_id"])["meta"]["sent_since_update"] == 0
    # and after long enough without one, whatever was sent
    alice.set_settings(update_every_messages=50, update_every_ms=1000)
    await housekeeping.run(alice, NOW + 4 + 1000)
    assert p.groups[ca["group_id"]].epoch == epoch + 2


async def test_a_failed_duty_is_recorded_and_the_rest_goes_on(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    alice.set_settings(update_every_messages=1)
    await messaging.send_text(alice, ca, "one", NOW + 1)
    p.fail("POST", r"/v1/groups/[^/]+/commits", 422, "validation_error")
    p.fail("GET", r"/v1/accounts/[^/]+/devices", 503, "unavailable")
    await housekeeping.run(alice, NOW + alice.settings.device_check_ms + 2)
    errors = [e["detail"] for e in alice.store.events(ca["conv_id"]) if e["kind"] == "error"]
    assert errors == [{"what": "a maintenance commit failed", "error": "ValidationError"}]
    assert alice.store.get_json("devices_refresh_error") == "ServerError"


async def test_a_member_who_left_is_committed_out_by_the_next_to_sync(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    meta = dict(alice.store.conversation(ca["conv_id"])["meta"], left=[BOB])
    alice.store.update_conversation(ca["conv_id"], meta=meta)
    await housekeeping.run(alice, NOW + 1)
    assert convs.members(alice, alice.store.conversation(ca["conv_id"])) == {
        ALICE: [alice.identity.device_id]}


async def test_removing_one_of_our_devices_everywhere(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    # a linked device that never published a KeyPackage: tried again only after a while
    alice.store.put_json("linked", ["N" * 22])
    await housekeeping.run(alice, NOW + 1)
    tried = alice.store.conversation(ca["conv_id"])["meta"]["link_tried_at"]
    assert tried == NOW + 1
    await housekeeping.run(alice, NOW + 2)
    assert alice.store.conversation(ca["conv_id"])["meta"]["link_tried_at"] == tried
    # removed at the provider, and from every conversation (none here has it yet)
    p.devices["N" * 22] = replace(p.devices[alice.identity.device_id], device_id="N" * 22,
                                  key=b"\x01" * 32, queue=[])
    assert await housekeeping.remove_device(alice, "N" * 22, NOW + 3) == 0
    assert alice.store.get_json("linked") == []
    assert identity_of(ALICE, "N" * 22) not in {
        mb.identity for mb in alice.engine.members(alice.store.load_group(ca["group_id"]))}
    with pytest.raises(NotFound):  # not a device of ours at the provider
        await housekeeping.remove_device(alice, "M" * 22, NOW + 4)
