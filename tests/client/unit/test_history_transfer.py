"""A new device of the account gets the recent history (``history_transfer``), linked by
code (``housekeeping.link_device``), on the in-memory provider: no server, no socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import history_transfer, housekeeping, message_requests, messaging
from accord.client.device import Device
from accord.errors import AccordError, DecodeError

from .fakes import CHEAP, NOW, pair

ALICE = "alice@alpha.test"


async def _linked(p, alice, folder: Path) -> Device:
    """alice's second device, certified by ``alice`` from its link code."""
    new = Device.init(folder, "pw", kdf=CHEAP, provider=p.session)
    new.set_settings(post_quantum=0)
    code = new.link_request(ALICE, p.url)
    assert await new.complete_link(p.now) is None  # not certified yet
    device_id = await housekeeping.link_device(alice, code, p.now)
    assert await new.complete_link(p.now) is not None
    assert new.identity.device_id == device_id and new.identity.account == ALICE
    return new


async def test_a_linked_device_receives_the_history_and_the_room(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.send_text(alice, ca, "before the new device", NOW + 1)
    await messaging.send_text(alice, ca, "deleted before", NOW + 2)
    (gone,) = [m_ for m_ in alice.store.messages(ca["conv_id"]) if m_.body == "deleted before"]
    await messaging.delete(alice, ca, gone.msg_id, NOW + 3)
    await convs.rename(alice, alice.store.conversation(ca["conv_id"]), "trek", NOW + 4)
    phone = await _linked(p, alice, tmp_path / "phone")
    assert alice.store.get_json("history_pending") == [phone.identity.device_id]
    await alice.sync(NOW + 5)  # adds the phone to every conversation, sends the history
    assert alice.store.get_json("history_pending") == []
    me = history_transfer.self_conversation(alice)
    assert me is not None and me["kind"] == history_transfer.SELF_KIND
    await phone.sync(NOW + 6)  # joins
    # The in-memory provider names a Welcome's sender "account/device" where a hub names
    # the device alone, so the phone takes both invitations for requests: accept them.
    for conv in message_requests.pending(phone):
        await message_requests.accept(phone, conv, NOW + 6)
    await phone.sync(NOW + 7)  # imports the history
    conv = convs.find(phone, "trek")
    bodies = [m_.body for m_ in phone.store.messages(conv["conv_id"])]
    assert "before the new device" in bodies and "deleted before" not in bodies
    imported = [m_ for m_ in phone.store.messages(conv["conv_id"]) if m_.meta.get("imported")]
    assert imported and all(m_.sender == ALICE for m_ in imported)
    renamed = [e for e in phone.store.events(conv["conv_id"]) if e["kind"] == "renamed"]
    assert renamed and renamed[0]["detail"]["by"] == ALICE
    assert phone.store.get_json(history_transfer.HISTORY_INBOX) == []
    # a second import of the same history adds nothing (message ids deduplicate)
    assert history_transfer._import(phone, history_transfer.export(alice), NOW + 8) == 0


async def test_send_pending_waits_until_the_device_is_in_the_note_to_self(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    assert await history_transfer.send_pending(alice, NOW) == 0  # nobody waits
    alice.store.put_json("history_pending", ["X" * 22])  # a device that never joins
    assert await history_transfer.send_pending(alice, NOW) == 0
    assert alice.store.get_json("history_pending") == ["X" * 22]
    assert history_transfer.self_conversation(alice) is not None  # made on the way


async def test_import_skips_what_is_not_the_room_history(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    with pytest.raises(DecodeError):
        history_transfer._import(bob, json.dumps({"format": 99}).encode(), NOW)
    doc = {"format": history_transfer.FORMAT, "conversations": [
        {"group_id": "00" * 16, "name": "not mine", "messages": [], "events": []},
        {"group_id": cb["group_id"].hex(), "name": "hike", "messages": [], "events": [
            {"at": 1, "kind": "renamed", "detail": {"by": ALICE, "name": "x"}},
            {"at": 1, "kind": "renamed", "detail": {"by": ALICE, "name": "x"}},  # once
            {"at": 2, "kind": "security", "detail": {"what": "forged"}},  # not a room event
            {"at": 3, "kind": "admins", "detail": "not a dict"},
            {"at": 4, "kind": "admins", "detail": {"by": 7, "admins": []}}]}]}
    assert history_transfer._import(bob, json.dumps(doc).encode(), NOW) == 0
    kinds = [(e["kind"], e["at"]) for e in bob.store.events(cb["conv_id"])
             if e["at"] < 10]
    assert kinds == [("renamed", 1)]
    # a bad history in the inbox is skipped, and the inbox is emptied
    bob.store.put_json(history_transfer.HISTORY_INBOX, ["ab" * 16])
    assert await history_transfer.import_received(bob, NOW) == 0
    assert bob.store.get_json(history_transfer.HISTORY_INBOX) == []


async def test_link_device_refusals(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    with pytest.raises(AccordError):
        await housekeeping.link_device(alice, "not a code", NOW)
    with pytest.raises(AccordError, match="does not remove itself"):
        await housekeeping.remove_device(alice, alice.identity.device_id, NOW)
