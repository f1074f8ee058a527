"""Backups (T17: ``backup``) and cover traffic (T12: ``cover``) on the in-memory
provider: what a backup holds and how a restore makes a new device of the account;
where cover posts go and what they look like to the provider."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from accord.client import backup, cover, history_transfer, messaging
from accord.client import conversations as convs
from accord.client.device import Device
from accord.errors import AuthError, DecodeError, ValidationError
from accord.privacy.backup_format import KdfCost, WrongRecoveryKey, new_recovery_key, seal_backup
from accord.privacy.cover import CoverSchedule

from .fakes import CHEAP, FakeProvider, pair

COST = KdfCost(time_cost=1, memory_kib=8 * 1024)


async def test_a_backup_holds_history_and_the_device_key_but_no_group_secret(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.send_text(alice, ca, "remember the lighthouse", p.now + 1)
    bob.store.upsert_contact("alice@alpha.test", display_name="Alice")
    key = new_recovery_key(os.urandom)
    sealed = backup.create(bob, p.now, key, COST)
    assert b"lighthouse" not in sealed and b"alice" not in sealed
    await bob.sync(p.now + 2)
    doc = backup.read(backup.create(bob, p.now, key, COST), key)
    assert (doc["account"], doc["device_id"]) == ("bob@alpha.test", bob.identity.device_id)
    assert bytes.fromhex(doc["device_key"]) == bob.store.get("sig_priv")
    (c,) = doc["conversations"]
    assert [m["body"] for m in c["messages"]] == ["remember the lighthouse"]
    assert sorted(c["members"]) == sorted([
        f"alice@alpha.test/{alice.identity.device_id}", f"bob@alpha.test/{bob.identity.device_id}"])
    text = json.dumps(doc)
    state = bob.store.load_group(cb["group_id"])
    assert state.hex() not in text  # no live MLS state
    with pytest.raises(WrongRecoveryKey):
        backup.read(sealed, new_recovery_key(os.urandom))
    not_ours = seal_backup(key, json.dumps({"format": 99}).encode(), os.urandom, COST)
    with pytest.raises(DecodeError, match="unknown backup format"):
        backup.read(not_ours, key)
    assert backup.fetch_token(key) == backup.fetch_token(key.lower())
    assert backup.fetch_token(key) != backup.fetch_token(new_recovery_key(os.urandom))


async def test_a_restore_makes_a_new_device_that_succeeds_the_old_one(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await messaging.send_text(alice, ca, "before the loss", p.now + 1)
    await bob.sync(p.now + 2)
    key = new_recovery_key(os.urandom)
    await backup.upload(bob, backup.create(bob, p.now, key, COST), key)
    old_id, old_key = bob.identity.device_id, bob.signature_public_key
    # bob loses his device; a new profile fetches the provider's copy with the key alone
    sealed = await backup.download(p.url, key, transport=p.transport)
    doc = backup.read(sealed, key)
    new = Device.init(tmp_path / "new", "pw", kdf=CHEAP, provider=p.session)
    new.set_settings(post_quantum=0)
    added = await backup.restore(new, doc, key, p.now + 3, reseal=True, cost=COST)
    assert added == 1
    assert new.identity.account == "bob@alpha.test" and new.identity.device_id != old_id
    assert old_id not in p.devices  # the lost device can no longer log in
    (conv,) = new.store.conversations()
    assert conv["meta"]["active"] is False and conv["meta"]["restored"] is True
    assert [m.body for m in new.store.messages(conv["conv_id"])] == ["before the loss"]
    # its MIMI ID comes along (issue 22): replies and receipts can refer to it again
    (msg,) = new.store.messages(conv["conv_id"])
    known = bob.store.mimi_id_of(cb["conv_id"], msg.msg_id)
    assert known is not None and new.store.mimi_id_of(conv["conv_id"], msg.msg_id) == known
    # the log names the new key the old one's successor, signed by the old key
    _, entry = p.log.current("bob@alpha.test")
    assert [(s.predecessor, s.successor) for s in entry.successions] == [
        (old_key, new.signature_public_key)]
    # the provider's copy now names the new device
    assert backup.read(await backup.download(p.url, key, transport=p.transport),
                       key)["device_id"] == new.identity.device_id
    # a restore into a registered profile imports the history only, once
    assert backup.import_history(new, doc, p.now + 4) == 0
    with pytest.raises(ValidationError, match="new profile"):
        await backup.relink(new, doc, p.now)


async def test_a_backup_of_a_removed_device_cannot_relink(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    key = new_recovery_key(os.urandom)
    doc = backup.read(backup.create(bob, p.now, key, COST), key)
    del p.devices[bob.identity.device_id]
    new = Device.init(tmp_path / "new", "pw", kdf=CHEAP, provider=p.session)
    with pytest.raises(AuthError, match="no longer on the account"):
        await backup.relink(new, doc, p.now)


async def test_a_conversation_with_no_one_else_continues_in_a_new_group_at_restore(
        tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    notes = await history_transfer.ensure_self_conversation(dev, p.now)
    await messaging.send_text(dev, notes, "note one", p.now)
    key = new_recovery_key(os.urandom)
    doc = backup.read(backup.create(dev, p.now, key, COST), key)
    new = Device.init(tmp_path / "new", "pw", kdf=CHEAP, provider=p.session)
    new.set_settings(post_quantum=0)
    await backup.restore(new, doc, key, p.now + 1, reseal=False)
    (conv,) = new.store.conversations()
    assert conv["conv_id"] == notes["conv_id"] and conv["group_id"] != notes["group_id"]
    assert conv["meta"]["active"] is True
    assert [e["kind"] for e in new.store.events(conv["conv_id"])][-1] == "rejoined"
    assert list(convs.members(new, conv)) == ["ann@alpha.test"]
    await messaging.send_text(new, conv, "note two", p.now + 2)
    assert [m.body for m in new.store.messages(conv["conv_id"])] == ["note one", "note two"]


async def test_cover_posts_look_like_receipts_and_go_to_an_eligible_conversation(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    assert cover.setting(alice) == {"enabled": False, "mean_s": 300}
    with pytest.raises(ValueError, match="5 s to one day"):
        cover.configure(alice, True, 4)
    assert cover.configure(alice, True, 60) == {"enabled": True, "mean_s": 60}
    assert [c["conv_id"] for c in cover.eligible(alice)] == [ca["conv_id"]]
    before = len(p.row(bob).queue)
    sent = await cover.send_cover(alice, p.now, random.Random(1))
    assert sent is not None
    assert len(p.row(bob).queue) == before + 1
    post = p.row(bob).queue[-1]
    assert post.kind == "application" and post.sender is None  # no sender named (T11)
    await bob.sync(p.now + 1)
    # a cover post is a receipt for no message: nothing to show
    assert [m.body for m in bob.store.messages(cb["conv_id"])] == []
    # a pending request is never a cover target (T14); with nothing else, note to self
    dev = await p.device(tmp_path / "solo", "solo@alpha.test")
    assert cover.eligible(dev) == []
    assert await cover.send_cover(dev, p.now) is not None
    assert history_transfer.self_conversation(dev) is not None


async def test_cover_ticks_only_when_on_and_due(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    sched = cover.schedule(alice, random.Random(3))
    assert isinstance(sched, CoverSchedule)
    assert await cover.tick(alice, sched, p.now) is False  # off
    assert await cover.while_listening(alice, lambda: p.now, random.Random(3), None, 1000) == 0
    cover.configure(alice, True, 5)
    sched = cover.schedule(alice, random.Random(3))
    before = len(p.row(bob).queue)
    assert await cover.tick(alice, sched, p.now) is False  # the first call schedules
    assert sched.next_at is not None and sched.next_at >= p.now + 5_000
    assert await cover.tick(alice, sched, sched.next_at - 1) is False
    assert await cover.tick(alice, sched, sched.next_at) is True
    assert len(p.row(bob).queue) == before + 1


async def test_cover_runs_are_bounded_by_the_clock_and_sleep_between_steps(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    cover.configure(alice, True, 5)
    clock = [p.now]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += int(s * 1000)

    before = len(p.row(bob).queue)
    sent = await cover.run(alice, lambda: clock[0], random.Random(5), 60_000, step_s=1.0,
                           sleep=sleep)
    assert clock[0] == p.now + 60_000 and len(slept) == 60  # one step a second, then stop
    assert 1 <= sent <= 12 and len(p.row(bob).queue) == before + sent  # mean 5 s, min 5 s
    # while listening: the --cover flag overrides the setting, both ways
    cover.configure(alice, False)
    clock[0] = p.now
    assert await cover.while_listening(alice, lambda: clock[0], random.Random(5), None,
                                       60_000, sleep=sleep) == 0
    listened = await cover.while_listening(alice, lambda: clock[0], random.Random(5), True,
                                           60_000, sleep=sleep)
    assert 1 <= listened <= 12 and clock[0] >= p.now + 60_000
    cover.configure(alice, True, 5)
    clock[0] = p.now
    assert await cover.while_listening(alice, lambda: clock[0], random.Random(5), False,
                                       60_000, sleep=sleep) == 0


async def test_cover_skips_a_conversation_the_key_change_gate_holds(tmp_path: Path) -> None:
    from accord.wire import b64e

    p, alice, bob, ca, cb = await pair(tmp_path)
    alice.store.put_json("kt:bad", [f"bob@alpha.test|{b64e(bob.signature_public_key)}"])
    before = len(p.row(bob).queue)
    assert await cover.send_cover(alice, p.now, random.Random(1)) is not None
    assert len(p.row(bob).queue) == before  # nothing into the held conversation
    notes = history_transfer.self_conversation(alice)
    assert notes is not None  # went to the note to self instead
    # our own key held too: nothing at all is sent
    alice.store.put_json("kt:bad", [f"bob@alpha.test|{b64e(bob.signature_public_key)}",
                                    f"alice@alpha.test|{b64e(alice.signature_public_key)}"])
    assert await cover.send_cover(alice, p.now, random.Random(1)) is None


@pytest.mark.parametrize("hub", ["refuses", "has_another_member"])
async def test_a_lone_conversation_is_rejoined_only_when_the_hub_confirms_it_is_alone(
        tmp_path: Path, hub: str) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    notes = await history_transfer.ensure_self_conversation(dev, p.now)
    key = new_recovery_key(os.urandom)
    doc = backup.read(backup.create(dev, p.now, key, COST), key)
    if hub == "refuses":
        p.fail("GET", r"/v1/groups/[^/]+", 503, "unavailable")
    else:  # someone joined since the backup: the members will add the new device
        p.groups[notes["group_id"]].members.append("Z" * 22)
    new = Device.init(tmp_path / "new", "pw", kdf=CHEAP, provider=p.session)
    new.set_settings(post_quantum=0)
    await backup.restore(new, doc, key, p.now + 1, reseal=False)
    (conv,) = new.store.conversations()
    assert conv["group_id"] == notes["group_id"] and conv["meta"]["active"] is False
    assert [e["kind"] for e in new.store.events(conv["conv_id"])][-1] != "rejoined"
