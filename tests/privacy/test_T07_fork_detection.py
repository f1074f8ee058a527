"""T07 evidence: a hub that forks a group or withholds a commit is detected by members.

The hub is simulated in the test (it computes the chain links and decides who
gets which commit); the members are real RFC 9420 groups (suite 0x0001) whose
epoch tags come from their epoch authenticators, checked by ForkMonitor as the
client does. The last test runs the device code itself on a real provider.
"""

from __future__ import annotations

import hashlib
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import alerts, inbox, messaging
from accord.client import conversations as convs
from accord.mls import group as g
from accord.mls.codec import decode
from accord.mls.structs import Add, Credential
from accord.mls.structs.messages import MLSMessage
from accord.mls.suites import get_suite
from accord.privacy.fork_chain import ZERO, ForkMonitor, chain_next
from accord.wire import messages as m
from tests.e2e.helpers import Clock, new_device
from tests.engine import start_server
from tests.federation.groups import arrive

NOW = int(time.time())


def _tag(state) -> bytes:  # type: ignore[no-untyped-def]
    return hashlib.sha256(b"accord epoch tag" + g.epoch_authenticator(state)).digest()[:8]


def _member(name: str):  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate().private_bytes_raw()
    return Credential.basic(name.encode()), key


def _group_of_three():  # type: ignore[no-untyped-def]
    """alice, bob, carol at epoch 1, each with a monitor that saw the first commit."""
    suite = get_suite(1)
    (ca, ka), (cb, kb), (cc, kc) = _member("alice"), _member("bob"), _member("carol")
    alice = g.create_group(suite, b"forked-group", ca, ka, NOW)
    kpb, kpc = g.key_package(suite, cb, kb, NOW), g.key_package(suite, cc, kc, NOW)
    result, pending = g.commit(alice, now=NOW, by_value=[Add(kpb.key_package),
                                                         Add(kpc.key_package)])
    alice = g.merge_pending(pending)
    welcome = decode(MLSMessage, result.welcome.to_bytes())
    bob = g.join_from_welcome(welcome, kpb, NOW)
    carol = g.join_from_welcome(welcome, kpc, NOW)
    link0 = chain_next(ZERO, 0, bytes(result.commit.to_bytes()))
    mons = {}
    for name in ("alice", "bob", "carol"):
        mons[name] = ForkMonitor()
        mons[name].joined(0, link0, 1)
    return {"alice": alice, "bob": bob, "carol": carol}, mons, link0


def _update(state):  # type: ignore[no-untyped-def]
    result, pending = g.commit(state, now=NOW, force_path=True)
    return bytes(result.commit.to_bytes()), g.merge_pending(pending)


def _apply(state, commit: bytes):  # type: ignore[no-untyped-def]
    _, new = g.process(state, decode(MLSMessage, commit), NOW)
    return new


def test_T07_hub_shows_two_members_different_commits() -> None:
    states, mons, link0 = _group_of_three()
    commit_a, states["alice"] = _update(states["alice"])
    commit_b, states["bob"] = _update(states["bob"])
    # the malicious hub: A for alice and carol, B for bob, each with a "valid" link
    states["carol"] = _apply(states["carol"], commit_a)
    mons["alice"].commit(1, chain_next(link0, 1, commit_a), commit_a, 1)
    mons["carol"].commit(1, chain_next(link0, 1, commit_a), commit_a, 1)
    mons["bob"].commit(1, chain_next(link0, 1, commit_b), commit_b, 1)
    assert all(not mon.take_alerts() for mon in mons.values())  # each view is consistent
    # alice writes; the epoch and epoch tag travel in the clear authenticated data
    for reader in ("bob", "carol"):
        mons[reader].application(2, _tag(states["alice"]), 2, _tag(states[reader]))
    assert [a.kind for a in mons["bob"].take_alerts()] == ["epoch_tag_mismatch"]
    assert mons["carol"].take_alerts() == []  # carol shares alice's view: no alarm


def test_T07_hub_withholds_a_commit_from_one_member() -> None:
    states, mons, link0 = _group_of_three()
    commit_a, states["alice"] = _update(states["alice"])
    link1 = chain_next(link0, 1, commit_a)
    states["bob"] = _apply(states["bob"], commit_a)
    mons["bob"].commit(1, link1, commit_a, 1)
    # carol never gets commit A; alice (epoch 2) writes
    mons["carol"].application(2, _tag(states["alice"]), 1, _tag(states["carol"]))
    assert [a.kind for a in mons["carol"].take_alerts()] == ["withheld_commit"]
    mons["bob"].application(2, _tag(states["alice"]), 2, _tag(states["bob"]))
    assert mons["bob"].take_alerts() == []
    # the next commit shows carol the gap in the chain as well
    commit_c, states["bob"] = _update(states["bob"])
    mons["carol"].commit(2, chain_next(link1, 2, commit_c), commit_c, 2)
    assert [a.kind for a in mons["carol"].take_alerts()] == ["withheld_commit"]


def test_T07_chain_tampering_and_second_commit_for_an_epoch() -> None:
    _states, mons, link0 = _group_of_three()
    commit = b"\x01" * 40
    mons["alice"].commit(1, chain_next(ZERO, 1, commit), commit, 1)  # not extending link0
    assert [a.kind for a in mons["alice"].take_alerts()] == ["chain_mismatch"]
    mons["bob"].commit(1, chain_next(link0, 1, commit), commit, 1)
    mons["bob"].commit(1, chain_next(link0, 1, b"other"), b"other", 1)
    assert [a.kind for a in mons["bob"].take_alerts()] == ["two_commits"]


async def test_T07_device_raises_a_security_alert_for_a_withheld_commit(tmp_path) -> None:
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    clock = Clock()
    try:
        alice = await new_device(tmp_path / "a", "alice@alpha.test", server.url, clock)
        bob = await new_device(tmp_path / "b", "bob@alpha.test", server.url, clock)
        conv = await convs.create(alice, "watch", ["bob@alpha.test"], clock())
        await arrive(bob, "watch", clock)
        await messaging.send_text(alice, conv, "honest", clock())
        await bob.sync(clock())
        assert alerts.pending(bob.store) == []  # an honest hub: no alert
        # the hub hands bob a message of an epoch whose commit it kept from him
        page = await alice.api.fetch(0)
        app = [i for i in page.items if i.kind == "application"][-1]
        from accord.mls.structs.messages import PrivateMessage

        msg = decode(MLSMessage, app.body)
        assert isinstance(msg.message, PrivateMessage)
        ahead = MLSMessage.wrap(PrivateMessage(
            msg.message.group_id, msg.message.epoch + 1, msg.message.content_type,
            msg.message.authenticated_data, msg.message.encrypted_sender_data,
            msg.message.ciphertext))
        forged = m.QueueItem(seq=bob.cursor + 1, msg_id="x" * 22, kind="application",
                             body=bytes(ahead.to_bytes()), created_at=clock(),
                             group_id=conv["group_id"], epoch=app.epoch)
        inbox._apply_whole(bob, forged, clock())  # the item fails; its alert is kept
        pending = alerts.pending(bob.store)
        assert [(a["kind"], a["detail"]["evidence"]) for a in pending] == [
            ("split_view", "withheld_commit")]
        events = bob.store.events(convs.find(bob, "watch")["conv_id"])
        assert any(e["kind"] == "security" for e in events)
        await alice.disconnect()
        await bob.disconnect()
    finally:
        server.stop()
