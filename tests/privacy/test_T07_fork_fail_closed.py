"""T07 evidence: fork detection fails closed (issue 17).

A hub that leaves out the chain link of a commit or a Welcome, or a message
whose authenticated data is no Safe AAD or has no epoch tag, must not switch the check
off: each absence is a ``split_view`` alert, like any other fork evidence.
The device tests run the client's own inbox on items a real provider
queued, with the evidence taken out as a malicious hub would.
"""

from __future__ import annotations

import dataclasses
import os

from accord.client import alerts, conv_state, inbox, messaging, rooms
from accord.client import conversations as convs
from accord.client.device import Device
from accord.client.mls_session import posting_key
from accord.content import Text, make_content, seal
from accord.mls.codec import decode
from accord.mls.structs.app_data import SafeAAD
from accord.mls.structs.messages import MLSMessage, PrivateMessage
from accord.privacy.fork_chain import ForkMonitor, chain_next
from accord.wire import messages as m
from accord.wire.safe_aad import FRANK_AAD, FrankAAD
from tests.e2e.helpers import Clock, new_device
from tests.engine import start_server
from tests.federation.groups import acquainted

LINK = bytes(range(32))


def _kinds(mon: ForkMonitor) -> list[str]:
    return [a.kind for a in mon.take_alerts()]


def test_T07_monitor_alerts_on_missing_chain_and_missing_tag() -> None:
    mon = ForkMonitor()
    mon.joined(None, None, 4)
    assert _kinds(mon) == ["chain_missing"]
    mon.joined(2, LINK, 4)  # a link for another commit than the one that added us
    assert _kinds(mon) == ["chain_mismatch"]
    assert (mon.epoch, mon.link) == (None, None)
    mon.joined(3, LINK, 4)
    mon.commit(4, None, b"commit", 4)
    assert _kinds(mon) == ["chain_missing"]
    mon.commit(None, LINK, b"commit", None)
    mon.commit(4, chain_next(LINK, 4, b"commit"), b"commit", None)  # the link's epoch left out
    assert _kinds(mon) == ["chain_missing", "chain_missing"]
    mon.commit(4, chain_next(LINK, 4, b"commit"), b"commit", 5)  # a link for another epoch
    assert _kinds(mon) == ["chain_mismatch"]
    assert (mon.epoch, mon.link) == (3, LINK)  # missing evidence never moves the chain
    mon.application(3, None, 3, b"t" * 8)
    mon.application(None, None, 3, b"t" * 8)
    assert _kinds(mon) == ["epoch_tag_missing", "epoch_tag_missing"]
    mon.commit(4, chain_next(LINK, 4, b"commit"), b"commit", 4)
    mon.application(4, b"t" * 8, 4, b"t" * 8)
    assert _kinds(mon) == []  # complete, consistent evidence: no alert


async def _pair(tmp_path, clock: Clock):  # type: ignore[no-untyped-def]
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    alice = await new_device(tmp_path / "a", "alice@alpha.test", server.url, clock)
    bob = await new_device(tmp_path / "b", "bob@alpha.test", server.url, clock)
    await acquainted(bob, "alice@alpha.test", clock)  # not a message request (T14)
    conv = await convs.create(alice, "watch", ["bob@alpha.test"], clock())
    return server, alice, bob, conv


async def _queued(dev: Device, kind: str) -> m.QueueItem:
    page = await dev.api.fetch(dev.cursor)
    return [i for i in page.items if i.kind == kind][-1]


def _split_view(dev: Device) -> list[tuple[str, str]]:
    return [(a["kind"], a["detail"]["evidence"]) for a in alerts.pending(dev.store)]


async def test_T07_welcome_and_commit_without_chain_fields_alert(tmp_path) -> None:
    clock = Clock()
    server, alice, bob, conv = await _pair(tmp_path, clock)
    try:
        welcome = await _queued(bob, "welcome")
        assert welcome.chain is not None and welcome.chain_seq is not None  # an honest hub
        await inbox.apply_items(bob, [dataclasses.replace(welcome, chain=None, chain_seq=None)],
                                clock())
        assert _split_view(bob) == [("split_view", "chain_missing")]
        shown = alerts.describe(alerts.pending(bob.store)[0])
        assert shown.endswith(f"the hub of conversation {conv_state.conv_id_of(conv['group_id'])} "
                              "may show its members different histories: the hub sent an "
                              "invitation without its chain link (chain_missing)")
        alerts.mark_seen(bob.store)
        await convs.commit(alice, conv, clock(), update=True)
        commit = await _queued(bob, "commit")
        assert commit.chain is not None
        await inbox.apply_items(bob, [dataclasses.replace(commit, chain=None, chain_seq=None)],
                                clock())
        assert _split_view(bob) == [("split_view", "chain_missing")]
        events = bob.store.events(conv_state.conv_id_of(conv["group_id"]))
        assert [e["detail"]["evidence"] for e in events if e["kind"] == "security"] == [
            "chain_missing"]
    finally:
        await alice.disconnect()
        await bob.disconnect()
        server.stop()


async def test_T07_message_with_a_foreign_aad_layout_alerts(tmp_path) -> None:
    clock = Clock()
    server, alice, bob, conv = await _pair(tmp_path, clock)
    try:
        await bob.sync(clock())
        await messaging.send_text(alice, conv, "honest", clock())
        await bob.sync(clock())
        assert alerts.pending(bob.store) == []  # the complete chain and tags: no alert
        await messaging.send_text(alice, conv, "second", clock())
        app = await _queued(bob, "application")
        pm = decode(MLSMessage, app.body).message
        assert isinstance(pm, PrivateMessage)
        foreign = MLSMessage.wrap(dataclasses.replace(pm, authenticated_data=b"another client"))
        item = dataclasses.replace(app, body=bytes(foreign.to_bytes()))
        await inbox.apply_items(bob, [item], clock())
        assert _split_view(bob) == [("split_view", "epoch_tag_missing")]
        # the item failed and was rolled back; the evidence stays in the history too
        events = bob.store.events(conv_state.conv_id_of(conv["group_id"]))
        assert [e["detail"]["evidence"] for e in events if e["kind"] == "security"] == [
            "epoch_tag_missing"]
    finally:
        await alice.disconnect()
        await bob.disconnect()
        server.stop()


async def test_T07_T13_a_safe_aad_without_the_epoch_tag_is_read_franked_and_alerts(
        tmp_path) -> None:
    """A MIMI client that is not Accord sends a well-formed Safe AAD with ``frank_aad``
    only: the hub takes the post and franks it, the member reads the message and keeps
    its franking evidence, and the missing epoch tag is ``epoch_tag_missing``."""
    clock = Clock()
    server, alice, bob, conv = await _pair(tmp_path, clock)
    try:
        await bob.sync(clock())
        gid = conv["group_id"]
        c = make_content(Text("from a MIMI client"), random_bytes=os.urandom, sent_at=clock())
        sealed = seal(c, rooms.index(alice, conv), rooms.sender_uri(alice.identity.account),
                      rooms.room_uri(alice, gid))
        aad = SafeAAD.of({FRANK_AAD: FrankAAD(sealed.franking_tag).to_bytes()}).to_bytes()
        state = alice.store.load_group(gid)
        ciphertext, nxt = alice.engine.protect(state, sealed.plaintext, aad)
        alice.store.save_group(gid, nxt, clock())
        await alice.api.post_application(gid, alice.engine.epoch(state), os.urandom(16),
                                         ciphertext, posting_key(alice.engine, state).sign)
        await bob.sync(clock())
        got = bob.store.message(c.message_id)
        assert got.body == "from a MIMI client"
        assert got.meta["franking_tag"] == sealed.franking_tag.hex()
        assert bytes.fromhex(got.meta["franking"]["content"]) == sealed.plaintext  # reportable
        assert _split_view(bob) == [("split_view", "epoch_tag_missing")]
    finally:
        await alice.disconnect()
        await bob.disconnect()
        server.stop()


async def test_T07_honest_hub_with_alternating_committers_gives_no_alert(tmp_path) -> None:
    """A committer never gets its own commit back; it extends its chain itself, so
    the commits of others after its own are not mistaken for withheld ones."""
    clock = Clock()
    server, alice, bob, conv = await _pair(tmp_path, clock)
    try:
        await bob.sync(clock())
        bob_conv = bob.store.conversation(conv_state.conv_id_of(conv["group_id"]))
        for _ in range(2):
            await convs.commit(alice, conv, clock(), update=True)
            await bob.sync(clock())
            await convs.commit(bob, bob_conv, clock(), update=True)
            await alice.sync(clock())
        await messaging.send_text(alice, conv, "still one group", clock())
        await bob.sync(clock())
        assert alerts.pending(alice.store) == []
        assert alerts.pending(bob.store) == []
        gid = conv["group_id"]
        for dev in (alice, bob):  # each chain is at the current epoch (4 commits after creation)
            mon = ForkMonitor.from_json(dev.store.get_json("fork:" + gid.hex()))
            assert mon.epoch == 4
    finally:
        await alice.disconnect()
        await bob.disconnect()
        server.stop()
