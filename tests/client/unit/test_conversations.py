"""Conversations as MLS groups (``conversations``): names, members, admins, leaving, and
commits that lose the race for an epoch, on the in-memory provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import conversations as convs
from accord.client import messaging
from accord.errors import AccordError, NotFound, ValidationError

from .fakes import NOW, error, pair

ALICE, BOB = "alice@alpha.test", "bob@alpha.test"


def test_resolve_names_ids_and_prefixes() -> None:
    a = {"conv_id": "abcd0001", "name": "Hike"}
    b = {"conv_id": "abcd0002", "name": "hike"}
    c = {"conv_id": "ffff0003", "name": "work"}
    assert convs.resolve([a, c], "HIKE") is a
    assert convs.resolve([a, b, c], "abcd0002") is b  # the full id first
    assert convs.resolve([a, b, c], "ffff") is c
    with pytest.raises(ValidationError, match="names several conversations"):
        convs.resolve([a, b, c], "hike")
    with pytest.raises(ValidationError, match="several"):
        convs.resolve([a, b], "abcd")
    with pytest.raises(NotFound):
        convs.resolve([a, b, c], "abc")  # a prefix needs 4 characters
    assert convs.fits_pq(0x0001, 10_000)


async def test_names_are_checked_and_unique(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    with pytest.raises(ValidationError, match="needs a name"):
        convs.check_name(alice, "   ")
    with pytest.raises(ValidationError, match="at most"):
        convs.check_name(alice, "x" * (convs.MAX_NAME + 1))
    with pytest.raises(ValidationError, match="already have a conversation named"):
        await convs.create(alice, "HIKE", [BOB], NOW)
    assert convs.check_name(alice, "hike", renaming=ca["conv_id"]) == "hike"
    with pytest.raises(ValidationError, match="only an admin"):
        await convs.rename(bob, cb, "mine now", NOW)
    await convs.rename(alice, ca, "trek", NOW + 1)
    await bob.sync(NOW + 2)
    assert convs.find(bob, "trek")["conv_id"] == cb["conv_id"]
    assert convs.members(bob, convs.find(bob, "trek")) == {
        ALICE: [alice.identity.device_id], BOB: [bob.identity.device_id]}
    assert convs.suite_of(bob, cb)["cipher_suite"] == "0x0001"


async def test_admins_removals_and_the_room_policy(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    carol = await p.device(tmp_path / "carol", "carol@alpha.test")
    with pytest.raises(ValidationError, match="at least one admin"):
        await convs.set_admins(alice, ca, [], NOW)
    await convs.set_admins(alice, ca, [ALICE, " BOB@alpha.test "], NOW + 1)
    assert alice.store.conversation(ca["conv_id"])["meta"]["admins"] == [ALICE, BOB]
    await bob.sync(NOW + 2)
    cb = bob.store.conversation(cb["conv_id"])
    assert await convs.add_members(bob, cb, ["carol@alpha.test"], NOW + 3) == 1
    assert await convs.add_members(bob, bob.store.conversation(cb["conv_id"]),
                                   ["carol@alpha.test"], NOW + 4) == 0  # in already
    await carol.sync(NOW + 5)
    await alice.sync(NOW + 5)
    events = [e["kind"] for e in alice.store.events(ca["conv_id"])]
    assert "member_added" in events
    with pytest.raises(NotFound, match="not a member"):
        await convs.remove_member(alice, alice.store.conversation(ca["conv_id"]),
                                  "dave@alpha.test", NOW + 6)
    assert await convs.remove_member(alice, alice.store.conversation(ca["conv_id"]),
                                     "carol@alpha.test", NOW + 6) == 1
    await carol.sync(NOW + 7)
    (cc,) = carol.store.conversations()
    assert cc["meta"]["active"] is False  # removed: the keys are gone, the history stays
    assert [e["detail"]["by"] for e in carol.store.events(cc["conv_id"])
            if e["kind"] == "removed"] == [ALICE]
    with pytest.raises(ValidationError, match="removed from"):
        await messaging.send_text(carol, cc, "still here?", NOW + 8)
    assert convs.suite_of(carol, cc)["cipher_suite"] is None


async def test_a_lost_race_for_the_epoch_is_caught_up_and_tried_again(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await convs.commit(bob, cb, NOW + 1, update=True)  # bob takes the next epoch
    # alice has not seen it: her update meets a conflict, catches up, commits again
    assert await convs.commit(alice, ca, NOW + 2, update=True)
    assert p.groups[ca["group_id"]].epoch == 3
    kinds = [e["kind"] for e in alice.store.events(ca["conv_id"])]
    assert kinds.count("key_update") == 1  # her own; bob's applied through catch_up
    assert alice.store.conversation(ca["conv_id"])["meta"]["sent_since_update"] == 0
    assert not await convs.commit(alice, ca, NOW + 3)  # nothing to do
    p.fail("POST", r"/v1/groups/[^/]+/commits", 409, "conflict", current_epoch=99)
    with pytest.raises(AccordError, match="kept changing"):
        await convs.commit(alice, alice.store.conversation(ca["conv_id"]), NOW + 4,
                           update=True)


async def test_a_failed_first_commit_leaves_no_conversation(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    p.answer("POST", r"/v1/groups/[^/]+/commits", lambda _r: error(422, "validation_error"))
    with pytest.raises(ValidationError):
        await convs.create(alice, "doomed", [BOB], NOW)
    assert [c["name"] for c in alice.store.conversations()] == ["hike"]
    p.clear()
    conv = await convs.create(alice, "doomed", [BOB], NOW, first_message="hello there")
    assert [m_.body for m_ in alice.store.messages(conv["conv_id"])] == ["hello there"]


async def test_leaving_proposes_our_removal_and_the_next_member_commits_it(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await convs.leave(bob, cb, NOW + 1)
    assert bob.store.conversation(cb["conv_id"])["meta"]["active"] is False
    await alice.sync(NOW + 2)  # the notice and the proposals; housekeeping commits
    assert convs.members(alice, alice.store.conversation(ca["conv_id"])) == {
        ALICE: [alice.identity.device_id]}
    kinds = [e["kind"] for e in alice.store.events(ca["conv_id"])]
    assert "member_left" in kinds and "member_removed" in kinds


async def test_a_member_s_own_removal_waits_for_a_new_epoch(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await convs.commit(alice, ca, NOW + 1, update=True)  # bob is one epoch behind
    await convs.leave(bob, cb, NOW + 2)  # conflict, catch up, propose again
    g = p.groups[cb["group_id"]]
    alice_row = p.devices[alice.identity.device_id]
    # the notice, then a SelfRemove and the unlisting of bob (a MIMI room, 3.5)
    assert [i.kind for i in alice_row.queue][-3:] == ["application", "proposal", "proposal"]
    assert alice_row.queue[-1].epoch == g.epoch
