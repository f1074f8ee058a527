"""Conversations end to end: several devices against a real provider process."""

from __future__ import annotations

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.history import timeline
from tests.e2e.helpers import Clock, fresh_account, new_device
from tests.federation.groups import arrive


async def test_group_text_reply_react_edit_delete(server, tmp_path) -> None:
    clock = Clock()
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    bob = await new_device(tmp_path / "b", fresh_account("bob"), server.url, clock)
    try:
        conv = await convs.create(alice, "plans", [bob.identity.account], clock())
        first = await messaging.send_text(alice, conv, "hello bob", clock())
        bconv = await arrive(bob, "plans", clock)
        msgs = bob.store.messages(bconv["conv_id"])
        assert [x.body for x in msgs] == ["hello bob"]
        assert msgs[0].sender == alice.identity.account
        await messaging.send_text(bob, bconv, "hi!", clock(), reply_to=first)
        await messaging.react(bob, bconv, first, "👍", clock())
        await alice.sync(clock())
        amsgs = alice.store.messages(conv["conv_id"])
        assert [x.body for x in amsgs] == ["hello bob", "hi!"]
        assert amsgs[1].reply_to == first
        assert amsgs[0].meta["reactions"] == {"👍": [bob.identity.account]}
        await messaging.edit(alice, conv, first, "hello bob (edited)", clock())
        await bob.sync(clock())
        assert bob.store.message(first).body == "hello bob (edited)"
        assert bob.store.message(first).edited
        await messaging.delete(alice, conv, first, clock())
        await bob.sync(clock())
        assert bob.store.message(first).deleted
        assert convs.members(bob, bconv) == convs.members(alice, conv)
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_order_is_the_hubs_delivery_order_not_sender_clocks(server, tmp_path) -> None:
    # bob's and carol's clocks are a minute behind alice's: by sent_at, bob's reply
    # would show above alice's message. The receive order keeps it below.
    fast, slow = Clock(), Clock()
    slow.t = fast.t - 60_000
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, fast)
    bob = await new_device(tmp_path / "b", fresh_account("bob"), server.url, slow)
    carol = await new_device(tmp_path / "c", fresh_account("carol"), server.url, slow)
    try:
        conv = await convs.create(alice, "order", [bob.identity.account,
                                                   carol.identity.account], fast())
        first = await messaging.send_text(alice, conv, "question", fast())
        bconv = await arrive(bob, "order", slow)
        await messaging.send_text(bob, bconv, "answer", slow(), reply_to=first)
        for dev, clock in ((alice, fast), (bob, slow), (carol, slow)):
            await arrive(dev, "order", clock)
            msgs = dev.store.messages(convs.find(dev, "order")["conv_id"])
            assert [m.body for m in msgs] == ["question", "answer"], dev.identity.account
            assert msgs[1].sent_at < msgs[0].sent_at  # the clocks really disagree
            items = timeline(dev, convs.find(dev, "order"))
            texts = [i["text"] for i in items if i["type"] == "message"]
            assert texts == ["question", "answer"]
            # events sit by position: the conversation was made before both messages
            first_msg = next(n for n, i in enumerate(items) if i["type"] == "message")
            assert all(i["type"] == "event" for i in items[:first_msg])
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
