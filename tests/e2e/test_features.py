"""Every client feature of issue 5 end to end against a real provider process."""

from __future__ import annotations

import asyncio
import os

import pytest

from accord.client import conversations as convs
from accord.client import housekeeping, messaging, posting
from accord.errors import AuthError, CryptoError, ValidationError
from tests.e2e.helpers import Clock, fresh_account, new_device
from tests.federation.groups import arrive


@pytest.fixture
async def trio(server, tmp_path):
    clock = Clock()
    devs = [await new_device(tmp_path / n, fresh_account(n), server.url, clock)
            for n in ("alice", "bob", "carol")]
    # consent is not these tests' point: bob and carol accept alice's first invitation
    # (T14), so hers that follow are no message requests
    await convs.create(devs[0], "introductions", [d.identity.account for d in devs[1:]],
                       clock())
    for d in devs[1:]:
        await arrive(d, "introductions", clock)
    yield (*devs, clock)
    for d in devs:
        await d.disconnect()


def _bodies(dev, conv_name):
    conv = convs.find(dev, conv_name)
    return [m.body for m in dev.store.messages(conv["conv_id"]) if not m.deleted]


async def test_offline_catch_up_and_dedupe(trio) -> None:
    alice, bob, carol, clock = trio
    conv = await convs.create(alice, "club", [bob.identity.account, carol.identity.account],
                              clock())
    # bob stays offline for several epochs and messages
    for i in range(3):
        await messaging.send_text(alice, conv, f"msg {i}", clock())
        await arrive(carol, "club", clock)
        await convs.commit(carol, convs.find(carol, "club"), clock(), update=True)
        await alice.sync(clock())
    await bob.sync(clock())
    assert _bodies(bob, "club") == ["msg 0", "msg 1", "msg 2"]
    # the same items delivered again are dropped (cursor and message ids)
    await bob.sync(clock())
    assert _bodies(bob, "club") == ["msg 0", "msg 1", "msg 2"]
    events = [e["kind"] for e in bob.store.events(convs.find(bob, "club")["conv_id"])]
    assert events.count("key_update") == 0 and "joined" in events


async def test_removed_member_can_no_longer_read(trio) -> None:
    alice, bob, carol, clock = trio
    conv = await convs.create(alice, "team", [bob.identity.account, carol.identity.account],
                              clock())
    await arrive(bob, "team", clock)
    await arrive(carol, "team", clock)
    await convs.remove_member(alice, conv, carol.identity.account, clock())
    await messaging.send_text(alice, conv, "after carol left", clock())
    await bob.sync(clock())
    await carol.sync(clock())
    assert _bodies(bob, "team") == ["after carol left"]
    assert _bodies(carol, "team") == []
    cconv = convs.find(carol, "team")
    assert not cconv["meta"]["active"]
    kinds = [e["kind"] for e in carol.store.events(cconv["conv_id"])]
    assert "removed" in kinds
    bkinds = [e for e in bob.store.events(convs.find(bob, "team")["conv_id"])
              if e["kind"] == "member_removed"]
    assert bkinds and bkinds[0]["detail"]["account"] == carol.identity.account
    with pytest.raises(ValidationError):
        await messaging.send_text(carol, cconv, "still here?", clock())
    # added back later: new keys, the old history stays, messages flow again
    await convs.add_members(alice, convs.find(alice, "team"), [carol.identity.account], clock())
    await messaging.send_text(alice, conv, "welcome back", clock())
    await arrive(carol, "team", clock)
    assert convs.find(carol, "team")["meta"]["active"]
    assert _bodies(carol, "team") == ["welcome back"]


async def test_T08_non_admin_cannot_remove_or_rename(trio) -> None:
    alice, bob, carol, clock = trio
    await convs.create(alice, "room", [bob.identity.account, carol.identity.account], clock())
    bconv = await arrive(bob, "room", clock)
    assert bconv["meta"]["admins"] == [alice.identity.account]
    with pytest.raises(ValidationError):
        await convs.remove_member(bob, bconv, carol.identity.account, clock())
    with pytest.raises(ValidationError):
        await convs.rename(bob, bconv, "bob's room", clock())


async def test_leave_rename_admins(trio) -> None:
    alice, bob, carol, clock = trio
    conv = await convs.create(alice, "book club", [bob.identity.account, carol.identity.account],
                              clock())
    await arrive(bob, "book club", clock)
    await arrive(carol, "book club", clock)
    await convs.rename(alice, conv, "reading club", clock())
    await convs.set_admins(alice, conv, [alice.identity.account, bob.identity.account], clock())
    bconv = await arrive(bob, "reading club", clock)
    assert set(bconv["meta"]["admins"]) == {alice.identity.account, bob.identity.account}
    await convs.leave(carol, convs.find(carol, "book club"), clock())
    await alice.sync(clock())  # alice sees the notice and commits carol's removal
    await arrive(bob, "reading club", clock)
    assert carol.identity.account not in convs.members(bob, convs.find(bob, "reading club"))


async def test_attachment_round_trip_and_hash_check(trio) -> None:
    alice, bob, _, clock = trio
    conv = await convs.create(alice, "files", [bob.identity.account], clock())
    data = os.urandom(200_000)
    seen = []
    mid = await messaging.send_file(alice, conv, data, "photo.bin", "application/octet-stream",
                                    clock(), text="a file", progress=lambda d, t: seen.append(d))
    assert seen
    await bob.sync(clock())
    name, got = await messaging.fetch_attachment(bob, mid)
    assert (name, got) == ("photo.bin", data)


async def test_disappearing_messages_and_search(trio) -> None:
    alice, bob, _, clock = trio
    conv = await convs.create(alice, "ephemeral", [bob.identity.account], clock())
    await messaging.set_timer(alice, conv, 60, clock())
    conv = convs.find(alice, "ephemeral")
    await messaging.send_text(alice, conv, "self destructing banana", clock())
    await bob.sync(clock())
    assert [m.body for m in bob.store.search("banana")] == ["self destructing banana"]
    clock.t += 61_000
    await bob.sync(clock())
    await alice.sync(clock())
    assert bob.store.search("banana") == [] and alice.store.search("banana") == []


async def test_periodic_self_update(trio) -> None:
    alice, bob, _, clock = trio
    alice.set_settings(update_every_messages=2)
    conv = await convs.create(alice, "pcs", [bob.identity.account], clock())
    state0 = alice.engine.epoch(alice.store.load_group(conv["group_id"]))
    for i in range(2):
        await messaging.send_text(alice, conv, f"m{i}", clock())
    await alice.sync(clock())
    state1 = alice.engine.epoch(alice.store.load_group(conv["group_id"]))
    assert state1 == state0 + 1
    await bob.sync(clock())
    assert _bodies(bob, "pcs") == ["m0", "m1"]
    await messaging.send_text(alice, conv, "after update", clock())
    await bob.sync(clock())
    assert _bodies(bob, "pcs")[-1] == "after update"
    # and after a time without enough messages
    alice.set_settings(update_every_messages=1000, update_every_ms=60_000)
    clock.t += 61_000
    await alice.sync(clock())
    assert alice.engine.epoch(alice.store.load_group(conv["group_id"])) == state1 + 1
    await arrive(bob, "pcs", clock)
    kinds = [e["kind"] for e in bob.store.events(convs.find(bob, "pcs")["conv_id"])]
    assert "error" not in kinds


async def test_T05_device_link_joins_all_conversations_visibly(trio, tmp_path, server) -> None:
    """A new device joins every conversation of its account, gets the recent history
    encrypted from the linking device, and every member sees it added (T05 visible side)."""
    alice, bob, _, clock = trio
    conv = await convs.create(alice, "linked", [bob.identity.account], clock())
    await messaging.send_text(alice, conv, "before the laptop", clock())
    laptop = await new_device(tmp_path / "alice-laptop", None, server.url, clock)
    try:
        code = laptop.link_request(alice.identity.account, server.url)
        assert await laptop.complete_link(clock()) is None  # not certified yet
        device_id = await housekeeping.link_device(alice, code, clock())
        ident = await laptop.complete_link(clock())
        assert ident is not None and ident.device_id == device_id
        await alice.sync(clock())  # adds the new device to every conversation
        await laptop.sync(clock())
        await arrive(bob, "linked", clock)
        await messaging.send_text(bob, convs.find(bob, "linked"), "hi both", clock())
        await laptop.sync(clock())
        assert _bodies(laptop, "linked") == ["before the laptop", "hi both"]
        imported = laptop.store.messages(convs.find(laptop, "linked")["conv_id"])[0]
        assert imported.meta.get("imported") and imported.sender == alice.identity.account
        await arrive(alice, "linked", clock)
        await messaging.send_text(alice, convs.find(alice, "linked"), "from the phone", clock())
        await laptop.sync(clock())
        assert _bodies(laptop, "linked")[-1] == "from the phone"
        await bob.sync(clock())
        await arrive(bob, "linked", clock)
        events = bob.store.events(convs.find(bob, "linked")["conv_id"])
        assert any(e["kind"] == "device_added" and e["detail"]["device"] == device_id
                   for e in events)
        assert len(convs.members(bob, convs.find(bob, "linked"))[alice.identity.account]) == 2
        # removing the device takes it out of the conversations
        await housekeeping.remove_device(alice, device_id, clock())
        await arrive(bob, "linked", clock)
        await messaging.send_text(bob, convs.find(bob, "linked"), "only alice's phone", clock())
        members = convs.members(bob, convs.find(bob, "linked"))
        assert members[alice.identity.account] == [alice.identity.device_id]
        with pytest.raises(AuthError):  # a removed device cannot even log in (T14: one refusal)
            await laptop.sync(clock())
        assert "only alice's phone" not in _bodies(laptop, "linked")
    finally:
        await laptop.disconnect()


async def test_listen_receives_pushed_messages(trio) -> None:
    alice, bob, _, clock = trio
    conv = await convs.create(alice, "live", [bob.identity.account], clock())
    await arrive(bob, "live", clock)

    caught_up = asyncio.Event()

    async def later() -> None:  # once bob's catch-up is done: what follows is pushed
        await caught_up.wait()
        await messaging.send_text(alice, conv, "pushed", clock())

    task = asyncio.create_task(later())
    await asyncio.wait_for(bob.listen(clock, max_frames=1, idle_timeout=10,
                                      on_connected=caught_up.set), 20)
    await task
    assert _bodies(bob, "live") == ["pushed"]


async def test_T07_different_epoch_view_raises_a_security_event(trio, monkeypatch) -> None:
    """A member whose epoch authenticator differs (a forked view) is reported."""
    alice, bob, _, clock = trio
    conv = await convs.create(alice, "forked", [bob.identity.account], clock())
    await arrive(bob, "forked", clock)
    await messaging.send_text(alice, conv, "same view", clock())
    with monkeypatch.context() as mp:
        mp.setattr(posting, "epoch_tag", lambda engine, state: b"\x00" * 8)
        await messaging.send_text(alice, conv, "other view", clock())
    await bob.sync(clock())
    assert _bodies(bob, "forked") == ["same view", "other view"]
    alerts = [e for e in bob.store.events(convs.find(bob, "forked")["conv_id"])
              if e["kind"] == "security"]
    assert len(alerts) == 1 and "fork" in alerts[0]["detail"]["what"]


async def test_large_attachment_streams_in_parts_and_tampering_fails(trio, server) -> None:
    alice, bob, _, clock = trio
    conv = await convs.create(alice, "big", [bob.identity.account], clock())
    data = os.urandom(17 * 1024 * 1024)  # three blob parts of at most 8 MiB
    mid = await messaging.send_file(alice, conv, data, "video.bin", "application/octet-stream",
                                    clock())
    await bob.sync(clock())
    locator = bob.store.message(mid).meta["attachments"][0]["locator"]
    assert len(locator.split(",")) == 3
    name, got = await messaging.fetch_attachment(bob, mid)
    assert name == "video.bin" and got == data
    # a part swapped by the provider (or anyone) is refused
    msg = bob.store.message(mid)
    att = dict(msg.meta["attachments"][0])
    ids = att["locator"].split(":", 1)[1].split(",")
    att["locator"] = "accord-blob:" + ",".join([ids[1], ids[0], ids[2]])
    bob.store.update_message_meta(mid, dict(msg.meta, attachments=[att]))
    with pytest.raises(CryptoError):
        await messaging.fetch_attachment(bob, mid)


async def test_concurrent_commits_one_wins_the_other_retries(trio) -> None:
    alice, bob, _, clock = trio
    conv = await convs.create(alice, "race", [bob.identity.account], clock())
    bconv = await arrive(bob, "race", clock)
    # alice commits first; bob has not seen it and commits for the same epoch
    await convs.commit(alice, conv, clock(), update=True)
    await convs.commit(bob, bconv, clock(), update=True)  # 409, catches up, commits again
    await alice.sync(clock())
    a_state = alice.store.load_group(conv["group_id"])
    b_state = bob.store.load_group(conv["group_id"])
    assert alice.engine.epoch(a_state) == bob.engine.epoch(b_state) == 3
    assert alice.engine.epoch_authenticator(a_state) == bob.engine.epoch_authenticator(b_state)
    await messaging.send_text(bob, bconv, "still in sync", clock())
    await alice.sync(clock())
    assert _bodies(alice, "race") == ["still in sync"]
