"""Device lifecycle on the in-memory provider: linking by code (``linking``),
dead leaves replaced (``device_replace``), a move to the post-quantum suite
(``reinit``, T10), account export and deletion (``account_data``, T18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import account_data, device_replace, linking, messaging, reinit, reinit_state
from accord.client import conversations as convs
from accord.client.api import DeviceRemoved
from accord.client.device import Device
from accord.client.mls_session import CLASSIC_SUITE, PQ_SUITE
from accord.errors import Conflict, CryptoError, ValidationError
from accord.wire import b64e

from .fakes import CHEAP, FakeProvider, pair


def test_codes_are_crockford_base32_and_forgive_confusable_letters() -> None:
    code = linking.new_code(lambda n: bytes(range(n)))
    assert len(code) == 11 and code[5] == "-"
    assert linking.normalize(code.lower().replace("-", " ")) == code.replace("-", "")
    assert linking.normalize("O1LI0-abcde") == "01110ABCDE"
    for bad in ("", "ABCDE-FGHJ", "ABCDE-FGHJKM", "ABCDE-FGHJU"):  # U is not in the alphabet
        with pytest.raises(ValidationError, match="10 letters"):
            linking.normalize(bad)
    a, b = linking.derive("7K3QX-9ZC2M"), linking.derive("7k3qx 9zc2m")
    assert a == b and len(a.slot) == 16 and len(a.key) == 32
    assert linking.derive("7K3QX-9ZC2N") != a
    assert linking.key_fingerprint(b"k" * 32).count(" ") == 4


def test_a_sealed_link_document_opens_only_with_its_code_and_role() -> None:
    keys = linking.derive("7K3QX-9ZC2M")
    sealed = linking.seal(keys, b"offer", {"v": 1, "account": "a@x.test"})
    assert linking.unseal(keys, b"offer", sealed) == {"v": 1, "account": "a@x.test"}
    with pytest.raises(CryptoError):
        linking.unseal(keys, b"answer", sealed)  # an offer replayed as an answer
    with pytest.raises(CryptoError):
        linking.unseal(linking.derive("7K3QX-9ZC2N"), b"offer", sealed)
    with pytest.raises(CryptoError, match="unknown linking format"):
        linking.unseal(keys, b"offer", linking.seal(keys, b"offer", {"v": 2}))
    with pytest.raises(CryptoError):
        linking.unseal(keys, b"offer", b"short")


async def test_a_new_device_is_linked_by_code_and_added_to_the_conversations(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    slot = await linking.open_slot(alice, p.now)
    assert slot.expires_at == p.now + linking.TTL_MS
    assert await linking.poll_answer(alice, slot) is None  # nobody answered yet
    laptop = Device.init(tmp_path / "laptop", "pw", kdf=CHEAP, provider=p.session)
    laptop.set_settings(post_quantum=0)
    with pytest.raises(linking.LinkError, match="no such linking code"):
        await linking.join(laptop, "ZZZZZ-ZZZZZ", p.url)
    assert await linking.join(laptop, slot.code, p.url) == "alice@alpha.test"
    assert await laptop.complete_link(p.now) is None  # not certified yet
    new = await linking.poll_answer(alice, slot)
    assert new is not None and new.signature_key == laptop.signature_public_key
    device_id = await linking.certify(alice, slot, new)
    assert alice.store.get_json("linked") == [device_id]
    assert alice.store.get_json("history_pending") == [device_id]
    assert slot.keys.slot not in p.slots  # closed
    await linking.close_slot(alice, slot)  # again: nothing to close, no error
    ident = await laptop.complete_link(p.now)
    assert (ident.account, ident.device_id) == ("alice@alpha.test", device_id)
    assert await linking.add_to_conversations(alice, device_id, p.now) == 0
    assert sorted(convs.members(alice, alice.store.conversation(ca["conv_id"]))[
        "alice@alpha.test"]) == sorted([alice.identity.device_id, device_id])
    assert await linking.add_to_conversations(alice, device_id, p.now) == 0  # in already
    with pytest.raises(ValidationError, match="already belongs"):
        await linking.join(alice, slot.code, p.url)


async def test_an_answer_whose_key_does_not_prove_possession_is_refused(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    slot = await linking.open_slot(alice, p.now)
    forged = linking.seal(slot.keys, b"answer", {"v": 1, "key": b64e(bob.signature_public_key),
                                                 "possession": b64e(b"\x00" * 64)})
    p.slots[slot.keys.slot]["answer"] = forged
    with pytest.raises(CryptoError):
        await linking.poll_answer(alice, slot)
    p.slots[slot.keys.slot]["answer"] = linking.seal(slot.keys, b"answer", {"v": 1})
    with pytest.raises(CryptoError, match="lacks a key"):
        await linking.poll_answer(alice, slot)
    p.now += linking.TTL_MS  # expired: the slot is gone for the new device
    laptop = Device.init(tmp_path / "laptop", "pw", kdf=CHEAP, provider=p.session)
    with pytest.raises(linking.LinkError):
        await linking.join(laptop, slot.code, p.url)


def test_one_member_commits_each_replacement() -> None:
    def ident(account: str, d: str) -> bytes:
        return f"{account}/{d * 22}".encode()

    a1, a2, b1, c1 = (ident("ann@x.test", "A"), ident("ann@x.test", "B"),
                      ident("bob@x.test", "C"), ident("cy@x.test", "D"))
    # ann has another device in: it commits for her own account
    assert device_replace.committer([a1, a2, b1], [a1]) == {"ann@x.test": a2}
    # no other device of hers: the smallest identity among the others
    assert device_replace.committer([a1, c1, b1], [a1]) == {"ann@x.test": b1}
    assert device_replace.committer([a1], [a1]) == {}  # nobody left to commit


async def test_a_device_gone_from_the_directory_is_replaced_by_the_listed_one(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    later = p.now + bob.settings.device_check_ms  # the sync refreshed at p.now
    assert not device_replace.due(bob, p.now + 1)
    assert device_replace.due(bob, later)
    assert await device_replace.refresh(bob, later) == 0  # nothing stale
    assert not device_replace.due(bob, later + 1)
    # a lying provider lists another account's device (its KeyPackage names
    # mallory) as alice's replacement: the binding check refuses it (T06)
    mallory = await p.device(tmp_path / "mallory", "mallory@alpha.test")
    old_id = alice.identity.device_id
    row = p.devices[mallory.identity.device_id]
    row.account = "alice@alpha.test"
    saved_old = p.devices.pop(old_id)
    with pytest.raises(ValidationError, match="does not match its device"):
        await device_replace.refresh(bob, later)
    row.account = "mallory@alpha.test"
    p.devices[old_id] = saved_old
    # the honest case: alice links a laptop, which removes her old device
    slot = await linking.open_slot(alice, p.now)
    laptop = Device.init(tmp_path / "laptop", "pw", kdf=CHEAP, provider=p.session)
    laptop.set_settings(post_quantum=0)
    await linking.join(laptop, slot.code, p.url)
    await linking.certify(alice, slot, await linking.poll_answer(alice, slot))
    await laptop.complete_link(p.now)
    await laptop.api.remove_device(old_id)
    assert await device_replace.refresh(bob, later + 1) == 1
    members = convs.members(bob, bob.store.conversation(cb["conv_id"]))
    assert members["alice@alpha.test"] == [laptop.identity.device_id]
    assert [e["kind"] for e in bob.store.events(cb["conv_id"])][-1] == "device_replaced"
    assert p.groups[cb["group_id"]].members == [bob.identity.device_id,
                                                laptop.identity.device_id]


async def test_a_conversation_moves_to_the_post_quantum_suite_and_never_back(
        tmp_path: Path) -> None:
    p = FakeProvider()
    alice = await p.device(tmp_path / "a", "alice@alpha.test", pq=True)
    alice.set_settings(post_quantum=0)  # creates in 0x0001
    conv = await convs.create(alice, "notes", [], p.now)
    alice.set_settings(post_quantum=1)
    await alice.top_up_key_packages(p.now)
    assert convs.suite_of(alice, conv)["cipher_suite"] == "0x0001"
    assert reinit_state.acceptable(CLASSIC_SUITE, PQ_SUITE)
    assert not reinit_state.acceptable(PQ_SUITE, CLASSIC_SUITE)
    assert not reinit_state.acceptable(CLASSIC_SUITE, 0x0002)
    moved = await reinit.upgrade(alice, conv, p.now)
    assert convs.suite_of(alice, moved)["cipher_suite"] == "0x0053"
    assert moved["conv_id"] == conv["conv_id"] and moved["group_id"] != conv["group_id"]
    assert [e["kind"] for e in alice.store.events(conv["conv_id"])][-2:] == [
        "reinit_started", "reinit"]
    with pytest.raises(Conflict, match="already uses"):
        await reinit.upgrade(alice, moved, p.now)
    with pytest.raises(ValidationError, match="downgrade"):
        await reinit.upgrade(alice, moved, p.now, CLASSIC_SUITE)
    mid = await messaging.send_text(alice, moved, "after the move", p.now)
    assert alice.store.message(mid).body == "after the move"


async def test_account_export_and_deletion(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    exported = await account_data.export(alice)
    assert exported == {"account": "alice@alpha.test", "devices": [alice.identity.device_id]}
    result = await account_data.delete(alice)
    assert [(e.table, e.rows) for e in result.erased] == [("devices", 1)]
    assert alice.store.get_json("device_removed") is True
    assert alice.store.messages(ca["conv_id"]) is not None  # the history stays readable
    await alice.disconnect()
    with pytest.raises(DeviceRemoved):
        await alice.connect()
    assert (await bob.api.claim_key_packages("alice@alpha.test")).key_packages == []


async def _pq_pair(tmp_path: Path):
    """alice and bob (both offering X-Wing) in a conversation made in 0x0001."""
    from accord.client import message_requests

    p = FakeProvider()
    alice = await p.device(tmp_path / "a", "alice@alpha.test", pq=True)
    bob = await p.device(tmp_path / "b", "bob@alpha.test", pq=True)
    alice.set_settings(post_quantum=0)
    ca = await convs.create(alice, "plans", ["bob@alpha.test"], p.now)
    alice.set_settings(post_quantum=1)
    await bob.sync(p.now)
    (cb,) = bob.store.conversations()
    await message_requests.accept(bob, cb, p.now)
    return p, alice, bob, ca, bob.store.conversation(cb["conv_id"])


async def test_T10_a_member_follows_the_move_to_the_new_group(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await _pq_pair(tmp_path)
    moved = await reinit.upgrade(alice, ca, p.now + 1)
    await bob.sync(p.now + 2)
    cb = bob.store.conversation(cb["conv_id"])
    assert cb["group_id"] == moved["group_id"]
    assert convs.suite_of(bob, cb)["post_quantum"] is True
    assert [e["kind"] for e in bob.store.events(cb["conv_id"])][-2:] == [
        "reinit_started", "reinit"]
    await messaging.send_text(bob, cb, "in the new group", p.now + 3)
    await alice.sync(p.now + 4)
    assert [m.body for m in alice.store.messages(ca["conv_id"])][-1] == "in the new group"


async def test_T10_a_new_group_with_other_members_is_refused(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await _pq_pair(tmp_path)
    # bob saw a ReInit to group X; a Welcome to X with different members arrives
    state = bob.store.load_group(cb["group_id"])
    bob.store.update_conversation(cb["conv_id"], meta=dict(cb["meta"], reinit=("ab" * 16)))
    other = Device.init(tmp_path / "mallory", "pw", kdf=CHEAP)
    priv, pub = other.store.get("sig_priv"), other.signature_public_key
    fake_state = bob.engine.create_group(bytes.fromhex("ab" * 16),
                                         b"mallory@alpha.test/" + b"M" * 22, priv, pub, p.now)
    waiting = reinit_state.pending(bob)
    assert [c["conv_id"] for c, _ in waiting] == [cb["conv_id"]]
    assert reinit_state.on_welcome(bob, waiting, fake_state, p.now) is True
    assert bob.store.conversation(cb["conv_id"])["group_id"] == cb["group_id"]  # stays
    assert "does not have its members" in bob.store.events(cb["conv_id"])[-1]["detail"]["what"]
    assert bob.store.load_group(cb["group_id"]) == state
    # a Welcome to a group nobody waits for is not a ReInit's
    assert reinit_state.on_welcome(bob, [], fake_state, p.now) is False


async def test_T10_a_downgrading_reinit_freezes_the_group_with_a_security_event(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await _pq_pair(tmp_path)
    moved = await reinit.upgrade(alice, ca, p.now + 1)
    await bob.sync(p.now + 2)
    cb = bob.store.conversation(cb["conv_id"])
    # now alice asks to go back to 0x0001: bob refuses
    out = alice.engine.commit_reinit(alice.store.load_group(moved["group_id"]), b"d" * 16,
                                     CLASSIC_SUITE, p.now)
    state = bob.engine.process(bob.store.load_group(cb["group_id"]), out.commit, p.now).state
    reinit_state.started(bob, cb, state, "alice@alpha.test", p.now)
    last = bob.store.events(cb["conv_id"])[-1]
    assert last["kind"] == "security" and "downgrade" in last["detail"]["what"]
    assert reinit_state.META not in bob.store.conversation(cb["conv_id"])["meta"]


async def test_an_offer_that_does_not_open_with_the_code_is_refused(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    slot = await linking.open_slot(alice, p.now)
    # the provider swaps in an offer sealed under another code (to name another account)
    other = linking.derive("ZZZZZ-ZZZZZ")
    p.slots[slot.keys.slot]["offer"] = linking.seal(other, b"offer",
                                                    {"v": 1, "account": "mallory@alpha.test"})
    laptop = Device.init(tmp_path / "laptop", "pw", kdf=CHEAP, provider=p.session)
    with pytest.raises(CryptoError):
        await linking.join(laptop, slot.code, p.url)
    assert laptop.store.get_json("link_request") is None  # nothing kept, nothing answered
    assert p.slots[slot.keys.slot]["answer"] is None


async def test_T10_a_message_kept_through_the_move_is_sealed_again_for_the_new_room(
        tmp_path: Path) -> None:
    from accord.client import outbox, rooms

    p, alice, bob, ca, cb = await _pq_pair(tmp_path)
    p.fail("POST", r"/v1/groups/[^/]+/messages", 503, "unavailable")
    mid = await messaging.send_text(alice, ca, "kept through the move", p.now + 1)
    kept = alice.store.outbox_item(mid)
    assert kept.state == "pending"
    p.clear()
    moved = await reinit.upgrade(alice, ca, p.now + 2)
    old_room = rooms.room_uri(alice, ca["group_id"])
    assert await outbox.flush(alice, p.now + 10**6) == {mid: None}
    await bob.sync(p.now + 10**6)
    cb = bob.store.conversation(cb["conv_id"])
    assert cb["group_id"] == moved["group_id"]
    assert [m.body for m in bob.store.messages(cb["conv_id"])][-1] == "kept through the move"
    # the MIMI ID follows the new room: the message is known under its new id only
    new_room = rooms.room_uri(alice, moved["group_id"])
    assert new_room != old_room
    index = rooms.index(alice, moved)
    assert index.mimi_id(mid) is not None
    assert index.mimi_id(mid) == rooms.index(bob, cb).mimi_id(mid)
