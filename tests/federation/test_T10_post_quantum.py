"""Post-quantum by default (THREATS.md T10, harvest now, decrypt later), on live providers.

Devices on alpha.test and beta.test publish KeyPackages in the X-Wing suite
0x0053 and in 0x0001; a conversation uses X-Wing when every device of every
member offers it, falls back to 0x0001 otherwise, and is moved to X-Wing
with ReInit (RFC 9420 11.2) once every device offers it.
"""

from __future__ import annotations

import os

import pytest

from accord.client import alerts, housekeeping, messaging, reinit, reinit_state
from accord.client import conversations as convs
from accord.client.device import Device
from accord.client.mls_session import CLASSIC_SUITE, PQ_SUITE
from accord.errors import NotFound, ValidationError
from accord.privacy.fork_chain import ForkMonitor
from tests.e2e.helpers import CHEAP, PASS, Clock, engine
from tests.federation.groups import arrive, bodies, events_of, people, until
from tests.federation.providers import Provider


def _suite(dev: Device, name: str) -> int:
    conv = convs.find(dev, name)
    return dev.engine.cipher_suite(dev.store.load_group(conv["group_id"]))


async def _classic_device(folder, account: str, server: str, clock: Clock) -> Device:  # type: ignore[no-untyped-def]
    dev = Device.init(folder, PASS, engine=engine(), kdf=CHEAP)
    dev.set_settings(post_quantum=0)  # this device offers 0x0001 only
    await dev.register(account, server, clock())
    return dev


async def test_T10_conversation_runs_end_to_end_on_the_hybrid_suite(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    alice, bob = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta")
    try:
        # Both suites are published by default, one last-resort KeyPackage each.
        for suite in (PQ_SUITE, CLASSIC_SUITE):
            count = await bob.api.key_package_count(suite)
            assert count.count >= 5 and count.last_resort
        conv = await convs.create(alice, "pq", [bob.identity.account], clock())
        assert convs.suite_of(alice, conv) == {
            "cipher_suite": "0x0053", "suite_name": "MLS_256_XWING_AES256GCM_SHA512_Ed25519",
            "post_quantum": True}
        await messaging.send_text(alice, conv, "hello quantum", clock())
        await arrive(bob, "pq", clock)
        assert _suite(bob, "pq") == PQ_SUITE  # bob joined the X-Wing group from its Welcome
        assert await bodies(bob, "pq", "hello quantum", clock) == ["hello quantum"]
        await messaging.send_text(bob, convs.find(bob, "pq"), "hello back", clock())
        assert "hello back" in await bodies(alice, "pq", "hello back", clock)
        # A KeyPackage of another suite is refused where a suite was asked for.
        classic = (await alice.api.claim_key_packages(bob.identity.account)).key_packages
        with pytest.raises(ValidationError) as err:
            alice.engine.key_package_identity(classic[0].key_package, clock(), PQ_SUITE)
        assert err.value.rule == "RFC 9420 10.1"
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T10_falls_back_to_0x0001_when_one_device_offers_only_it(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    alice, bob = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta")
    # bob's second device offers 0x0001 only.
    bob2 = Device.init(tmp_path / "b2", PASS, engine=engine(), kdf=CHEAP)
    bob2.set_settings(post_quantum=0)
    devices = [alice, bob, bob2]
    try:
        code = bob2.link_request(bob.identity.account, providers["beta"].url)
        await housekeeping.link_device(bob, code, clock(), send_history=False)
        assert await bob2.complete_link(clock()) is not None
        assert (await bob2.api.key_package_count(PQ_SUITE)).count == 0
        conv = await convs.create(alice, "mixed", [bob.identity.account], clock())
        assert convs.suite_of(alice, conv)["cipher_suite"] == "0x0001"
        await messaging.send_text(alice, conv, "classic", clock())
        for dev in (bob, bob2):
            await arrive(dev, "mixed", clock)
            assert _suite(dev, "mixed") == CLASSIC_SUITE
            assert await bodies(dev, "mixed", "classic", clock) == ["classic"]
        assert set(convs.members(alice, convs.find(alice, "mixed"))[bob.identity.account]) == {
            bob.identity.device_id, bob2.identity.device_id}
    finally:
        for d in devices:
            await d.disconnect()


async def test_T10_reinit_moves_a_conversation_to_the_hybrid_suite(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    tag = os.urandom(3).hex()
    (alice,) = await people(tmp_path, providers, clock, "alice@alpha")
    carol = await _classic_device(tmp_path / "c", f"carol{tag}@beta.test",
                                  providers["beta"].url, clock)
    try:
        conv = await convs.create(alice, "move", [carol.identity.account], clock())
        assert convs.suite_of(alice, conv)["cipher_suite"] == "0x0001"
        await messaging.send_text(alice, conv, "before", clock())
        cconv = await arrive(carol, "move", clock)
        assert await bodies(carol, "move", "before", clock) == ["before"]
        old_group = conv["group_id"]
        epoch = alice.engine.epoch(alice.store.load_group(old_group))

        # carol's device offers no X-Wing KeyPackage: nothing is committed.
        with pytest.raises(ValidationError) as err:
            await reinit.upgrade(alice, conv, clock())
        assert err.value.rule == "Accord: cipher suite (T10)"
        assert alice.engine.epoch(alice.store.load_group(old_group)) == epoch

        carol.set_settings(post_quantum=1)
        await carol.top_up_key_packages(clock())
        moved = await reinit.upgrade(alice, conv, clock())
        assert moved["conv_id"] == conv["conv_id"] and moved["group_id"] != old_group
        assert convs.suite_of(alice, moved)["cipher_suite"] == "0x0053"
        with pytest.raises(NotFound):
            alice.store.load_group(old_group)  # the old group's keys are gone

        await messaging.send_text(alice, moved, "after", clock())
        texts = await bodies(carol, "move", "after", clock)
        assert texts == ["before", "after"]  # one conversation, history kept
        cmoved = convs.find(carol, "move")
        assert cmoved["conv_id"] == cconv["conv_id"] and cmoved["group_id"] == moved["group_id"]
        assert _suite(carol, "move") == PQ_SUITE
        assert "reinit" in [e["kind"] for e in carol.store.events(cmoved["conv_id"])]
        await messaging.send_text(carol, cmoved, "from carol on x-wing", clock())
        assert "from carol on x-wing" in await bodies(alice, "move", "from carol on x-wing",
                                                       clock)
        assert set(convs.members(carol, cmoved)) == {alice.identity.account,
                                                     carol.identity.account}
        for dev, cid in ((alice, conv["conv_id"]), (carol, cconv["conv_id"])):
            kinds = [e["kind"] for e in dev.store.events(cid)]
            assert "security" not in kinds and "error" not in kinds, kinds
            assert dev.store.get_json("alerts", []) == []  # no fork or key alert either
        # T07: both chains of the new group start at the same link (the mover's own)
        links = [ForkMonitor.from_json(d.store.get_json("fork:" + moved["group_id"].hex()))
                 for d in (alice, carol)]
        assert links[0].epoch == 0 and links[0].to_json() == links[1].to_json()
        assert [a for a in alerts.pending(alice.store) + alerts.pending(carol.store)
                if a["kind"] == "split_view"] == []
    finally:
        for d in (alice, carol):
            await d.disconnect()


async def test_T10_a_member_cannot_reinit_a_conversation_down_to_0x0001(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    alice, mallory = await people(tmp_path, providers, clock, "alice@alpha", "mallory@beta")
    try:
        conv = await convs.create(alice, "pq", [mallory.identity.account], clock())
        mconv = await arrive(mallory, "pq", clock)
        # mallory's client commits a ReInit to 0x0001 (the policy check bypassed).
        assert await convs.commit(mallory, mconv, clock(), reinit=(os.urandom(16), CLASSIC_SUITE))
        events = await events_of(alice, conv["conv_id"], "security", clock)
        what = [e["detail"]["what"] for e in events]
        assert what and "downgrade" in what[0]
        assert "reinit" not in alice.store.conversation(conv["conv_id"])["meta"]
        assert reinit_state.pending(alice) == []  # no Welcome will move it
        assert _suite(alice, "pq") == PQ_SUITE
    finally:
        for d in (alice, mallory):
            await d.disconnect()


async def test_T05_a_reinit_whose_new_group_adds_someone_is_refused(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """RFC 9420 11.2: the new group has the old group's members; a mover that slips
    a ghost into it does not take the others along."""
    clock = Clock()
    tag = os.urandom(3).hex()
    (mallory,) = await people(tmp_path, providers, clock, "mallory@alpha")
    carol = await _classic_device(tmp_path / "c", f"carol{tag}@beta.test",
                                  providers["beta"].url, clock)
    (ghost,) = await people(tmp_path, providers, clock, "ghost@alpha")
    try:
        conv = await convs.create(mallory, "move", [carol.identity.account], clock())
        cconv = await arrive(carol, "move", clock)
        carol.set_settings(post_quantum=1)
        await carol.top_up_key_packages(clock())
        state = mallory.store.load_group(conv["group_id"])
        adds = list((await reinit._claim_everyone(mallory, state, PQ_SUITE, clock())).values())
        adds += (await convs.claim(mallory, ghost.identity.account, set(), clock(), PQ_SUITE))[0]
        assert await convs.commit(mallory, conv, clock(), reinit=(os.urandom(16), PQ_SUITE))
        await reinit._create(mallory, mallory.store.conversation(conv["conv_id"]), adds, clock())
        alerts = await events_of(carol, cconv["conv_id"], "security", clock)
        assert ghost.identity.account in alerts[0]["detail"]["what"]
        assert [c["conv_id"] for c in carol.store.conversations()] == [cconv["conv_id"]]
        still = carol.store.conversation(cconv["conv_id"])
        assert still["group_id"] == cconv["group_id"]  # not moved into the ghost's group
        assert _suite(carol, "move") == CLASSIC_SUITE
    finally:
        for d in (mallory, carol, ghost):
            await d.disconnect()


async def test_T10_groups_too_large_for_x_wing_messages_use_0x0001(
    providers: dict[str, Provider], tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """X-Wing Welcomes cost some 2.7 KB per device: past ``PQ_MAX_DEVICES`` (64; 2 here)
    a new conversation uses 0x0001, and an X-Wing one takes no more devices."""
    from accord.client import mls_session

    monkeypatch.setattr(mls_session, "PQ_MAX_DEVICES", 2)
    clock = Clock()
    alice, bob, carol = await people(
        tmp_path, providers, clock, "alice@alpha", "bob@beta", "carol@beta")
    try:
        pair = await convs.create(alice, "pair", [bob.identity.account], clock())
        assert convs.suite_of(alice, pair)["cipher_suite"] == "0x0053"  # 2 devices fit
        three = await convs.create(alice, "three", [bob.identity.account,
                                                    carol.identity.account], clock())
        assert convs.suite_of(alice, three)["cipher_suite"] == "0x0001"
        with pytest.raises(ValidationError) as err:
            await convs.add_members(alice, pair, [carol.identity.account], clock())
        assert err.value.rule == "Accord: cipher suite (T10)"
        with pytest.raises(ValidationError) as err:
            await reinit.upgrade(alice, three, clock())
        assert err.value.rule == "Accord: cipher suite (T10)"
        assert convs.members(alice, convs.find(alice, "pair")) == {
            alice.identity.account: [alice.identity.device_id],
            bob.identity.account: [bob.identity.device_id]}
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


async def test_T10_any_member_finishes_a_reinit_whose_mover_stopped(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """RFC 9420 11.2: the ReInit committed, its mover gone before creating the new group;
    another member (not an admin) creates it and everyone moves."""
    clock = Clock()
    (alice,) = await people(tmp_path, providers, clock, "alice@alpha")
    alice.set_settings(post_quantum=0)  # alice's conversations start in 0x0001
    (carol,) = await people(tmp_path, providers, clock, "carol@beta")
    try:
        conv = await convs.create(alice, "move", [carol.identity.account], clock())
        cconv = await arrive(carol, "move", clock)
        assert await convs.commit(alice, conv, clock(), reinit=(os.urandom(16), PQ_SUITE))
        await until(carol, clock, lambda: reinit_state.pending(carol), "the ReInit")
        assert alice.identity.account in convs.find(carol, "move")["meta"]["admins"]
        assert carol.identity.account not in convs.find(carol, "move")["meta"]["admins"]
        moved = await reinit.upgrade(carol, convs.find(carol, "move"), clock())
        assert _suite(carol, "move") == PQ_SUITE and moved["conv_id"] == cconv["conv_id"]
        await messaging.send_text(carol, moved, "finished it", clock())
        assert await bodies(alice, "move", "finished it", clock) == ["finished it"]
        assert _suite(alice, "move") == PQ_SUITE
    finally:
        for d in (alice, carol):
            await d.disconnect()


async def test_T10_a_post_sent_during_a_move_across_providers_is_not_lost(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """issue 18: bob (beta) posts into the old group after alice (alpha, its hub) moved
    it: the hub's ``group_moved`` answer reaches bob through his provider, bob keeps
    the message until the new group's Welcome has come and sends it there."""
    clock = Clock()
    (alice,) = await people(tmp_path, providers, clock, "alice@alpha")
    alice.set_settings(post_quantum=0)  # the conversation starts in 0x0001
    (bob,) = await people(tmp_path, providers, clock, "bob@beta")
    try:
        conv = await convs.create(alice, "across", [bob.identity.account], clock())
        bconv = await arrive(bob, "across", clock)
        await reinit.upgrade(alice, conv, clock())
        await messaging.send_text(bob, bconv, "while it moved", clock())

        def sent() -> bool:  # the Welcome crosses providers on its own time
            if not bob.store.outbox(bconv["conv_id"]):
                return True
            (item,) = bob.store.outbox(bconv["conv_id"])
            assert item.state == "pending", item.error  # kept, never failed
            clock.t += 3_600_000  # past the outbox's backoff
            return False

        await until(bob, clock, sent, "the kept message")
        assert _suite(bob, "across") == PQ_SUITE
        assert await bodies(alice, "across", "while it moved", clock) == ["while it moved"]
    finally:
        for d in (alice, bob):
            await d.disconnect()
