"""T02 evidence: after a scripted conversation, no plaintext, attachment byte or
attachment key is anywhere in the provider's database or blob folder."""

from __future__ import annotations

import os

from accord.client import conversations as convs
from accord.client import messaging
from tests.e2e.helpers import Clock, new_device
from tests.engine import provider_rows, start_server, stored_needles
from tests.federation.groups import arrive


async def test_T02_provider_storage_holds_no_plaintext_nor_keys(tmp_path) -> None:
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    clock = Clock()
    devs = []
    try:
        alice = await new_device(tmp_path / "a", "alice@alpha.test", server.url, clock)
        bob = await new_device(tmp_path / "b", "bob@alpha.test", server.url, clock)
        devs = [alice, bob]
        conv = await convs.create(alice, "secret plans", ["bob@alpha.test"], clock())
        texts = ["the treasure is under the third palm tree",
                 "bring the blue shovel and two lanterns",
                 "meet at the harbour at quarter past nine"]
        first = await messaging.send_text(alice, conv, texts[0], clock())
        bconv = await arrive(bob, "secret plans", clock)
        await messaging.send_text(bob, bconv, texts[1], clock(), reply_to=first)
        await messaging.react(bob, bconv, first, "🏝", clock())
        await alice.sync(clock())
        await messaging.edit(alice, conv, first, texts[2], clock())
        attachment = os.urandom(150_000)
        file_id = await messaging.send_file(alice, conv, attachment, "map.bin",
                                            "application/octet-stream", clock())
        await bob.sync(clock())
        name, got = await messaging.fetch_attachment(bob, file_id)
        assert got == attachment
        key = bytes.fromhex(bob.store.message(file_id).meta["attachments"][0]["key"])
        group_id = conv["group_id"]
        for d in devs:
            await d.disconnect()
    finally:
        server.stop()
    data_dir = tmp_path / "provider"
    needles = [t.encode() for t in texts] + [b"secret plans", b"map.bin", key,
                                             attachment[:64], attachment[70_000:70_064],
                                             attachment[-64:]]
    assert stored_needles(data_dir, needles) == []
    # the scan is able to see what it looks for: a planted copy is found
    (data_dir / "planted").write_bytes(b"xx" + texts[1].encode() + b"yy")
    assert stored_needles(data_dir, needles) == [("planted", 1)]
    rows = provider_rows(data_dir, "SELECT kind, sender FROM messages WHERE group_id = ?",
                         group_id)
    assert {kind for kind, _ in rows} >= {"commit", "application"}
    # T11 visible side: application messages name no sender at the provider
    assert all(sender is None for kind, sender in rows if kind == "application")
