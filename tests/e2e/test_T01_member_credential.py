"""A malicious group member and its own leaf, against a real provider (issue 17).

Bob is a registered member of a real conversation; he crafts commits from his
own group state with the malicious-member fixture (``tests.mls.malicious_member``)
and a hub hands them to alice with a correct chain link, so the only thing
wrong is what bob changed in his leaf:

- T01: his leaf takes carol's identity. Alice's engine refuses the commit
  (RFC 9420 5.3.1) and nothing changes in her group.
- T06: his leaf keeps his identity but gets a signature key that is not in
  his account's transparency log. MLS accepts it (a key rotation is legal);
  alice's device looks the new key up in the live log and raises an alert.
"""

from __future__ import annotations

import pytest

from accord.client import alerts, device_kt, inbox
from accord.client import conversations as convs
from accord.client.device import Device
from accord.errors import ValidationError
from accord.mls import group as g
from accord.mls.structs import Credential, MLSMessage
from accord.privacy.fork_chain import ForkMonitor, chain_next
from accord.wire import b64e
from accord.wire import messages as m
from tests.e2e.helpers import Clock, new_device
from tests.engine import start_server
from tests.federation.groups import arrive
from tests.mls import malicious_member


async def _group(tmp_path, clock: Clock):  # type: ignore[no-untyped-def]
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    devs = [await new_device(tmp_path / n, f"{n}@alpha.test", server.url, clock)
            for n in ("alice", "bob", "carol")]
    alice, bob, carol = devs
    conv = await convs.create(alice, "g", ["bob@alpha.test", "carol@alpha.test"], clock())
    for d in (bob, carol):
        await arrive(d, "g", clock)
    assert alerts.pending(alice.store) == []
    return server, devs, conv


def _relay(dev: Device, conv: dict, commit: MLSMessage, now: int) -> m.QueueItem:  # type: ignore[type-arg]
    """The item a hub queues for ``dev``: the crafted commit with a correct chain link."""
    gid = conv["group_id"]
    epoch = dev.engine.epoch(dev.store.load_group(gid))
    mon = ForkMonitor.from_json(dev.store.get_json("fork:" + gid.hex()))
    assert mon.link is not None and mon.epoch == epoch - 1
    body = bytes(commit.to_bytes())
    return m.QueueItem(seq=dev.cursor + 1, msg_id="c" * 22, kind="commit", body=body,
                       created_at=now, group_id=gid, epoch=epoch, chain_seq=epoch,
                       chain=chain_next(mon.link, epoch, body))


def _apply(dev: Device, item: m.QueueItem, now: int) -> None:
    inbox._apply_whole(dev, item, now)  # as apply_items does, without the provider's ack


async def _stop(server, devs) -> None:  # type: ignore[no-untyped-def]
    for d in devs:
        await d.disconnect()
    server.stop()


async def test_T01_member_cannot_rename_itself_to_another_member(tmp_path) -> None:
    clock = Clock()
    server, devs, conv = await _group(tmp_path, clock)
    alice, bob, carol = devs
    try:
        gid = conv["group_id"]
        bob_state = g.GroupState.from_bytes(bob.store.load_group(gid))
        forged = malicious_member.path_commit(
            bob_state, clock() // 1000, credential=Credential.basic(carol.identity.mls_identity))
        before = alice.store.load_group(gid)
        with pytest.raises(ValidationError) as err:
            alice.engine.process(before, bytes(forged.to_bytes()), clock())
        assert err.value.rule == "RFC 9420 5.3.1"
        _apply(alice, _relay(alice, conv, forged, clock()), clock())
        assert alice.store.load_group(gid) == before  # nothing applied
        last = alice.store.events(conv["conv_id"])[-1]
        assert (last["kind"], last["detail"]["error"]) == ("error", "ValidationError")
        assert alerts.pending(alice.store) == []  # the chain was fine: no fork alert
    finally:
        await _stop(server, devs)


async def test_T06_member_key_rotated_out_of_the_log_is_alerted(tmp_path) -> None:
    clock = Clock()
    server, devs, conv = await _group(tmp_path, clock)
    alice, bob, _carol = devs
    try:
        gid = conv["group_id"]
        await device_kt.after_sync(alice, clock())  # every member key checked once
        assert alerts.pending(alice.store) == []
        bob_state = g.GroupState.from_bytes(bob.store.load_group(gid))
        new_priv, new_pub = bob_state.suite.generate_signature_key_pair()
        rotated = malicious_member.path_commit(bob_state, clock() // 1000,
                                               signature_key_pair=(new_priv, new_pub))
        _apply(alice, _relay(alice, conv, rotated, clock()), clock())
        keys = {mb.identity: mb.signature_key
                for mb in alice.engine.members(alice.store.load_group(gid))}
        assert keys[bob.identity.mls_identity] == new_pub  # MLS accepted the rotation
        await device_kt.after_sync(alice, clock())
        pending = alerts.pending(alice.store)
        assert [(a["kind"], a["detail"]["account"], a["detail"]["key"]) for a in pending] == [
            ("key_not_in_log", "bob@alpha.test", alerts.fingerprint(new_pub))]
        assert f"bob@alpha.test|{b64e(new_pub)}" in device_kt.unproven(alice)
    finally:
        await _stop(server, devs)
