"""The durable outbox (issue 19), driven through the library with a fake clock for
every backoff decision and faults injected at the device's provider API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from accord.client import conversations as convs
from accord.client import messaging, outbox
from accord.client.api import ServerError
from accord.client.device import Device
from accord.errors import RateLimited, ValidationError
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import arrive


class Faulty:
    """Stands in for ``post_application``: raises ``fail`` (before or after the real
    post reached the provider) while set."""

    def __init__(self, dev: Device) -> None:
        self.real = dev.api.post_application
        self.fail: Exception | None = None
        self.after_delivery = False
        self.calls = 0
        dev.api.post_application = self  # type: ignore[method-assign]

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.fail is None:
            return await self.real(*args, **kwargs)
        if self.after_delivery:
            await self.real(*args, **kwargs)  # the provider took it; its answer is lost
        raise self.fail


@pytest.fixture
async def pair(server, tmp_path) -> AsyncIterator[tuple[Device, Device, dict, Clock]]:
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", server.url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", server.url, clock)
    conv = await convs.create(bob, "pair", [alice.identity.account], clock())
    await arrive(alice, "pair", clock)
    try:
        yield alice, bob, convs.find(alice, "pair"), clock
    finally:
        for d in (alice, bob):
            await d.disconnect()
            d.close()
    assert conv


def _texts(dev: Device) -> list[str]:
    conv = convs.find(dev, "pair")
    return [m.body for m in dev.store.messages(conv["conv_id"]) if m.kind == "text"]


def _errors(dev: Device) -> list[dict]:
    conv = convs.find(dev, "pair")
    return [e for e in dev.store.events(conv["conv_id"]) if e["kind"] == "error"]


async def test_outage_keeps_the_message_and_backoff_decides_the_retry(pair) -> None:
    alice, bob, conv, clock = pair
    post = Faulty(alice)
    post.fail = ServerError("cannot reach the provider: ConnectError")
    t0 = clock()
    mid = await messaging.send_text(alice, conv, "while the provider is down", t0)
    item = alice.store.outbox_item(mid)
    assert (item.state, item.attempts, item.next_at) == ("pending", 1, t0 + 5_000)
    assert alice.store.message(mid).meta["outbox"] == "pending"  # shown at once, as pending
    assert await outbox.flush(alice, t0 + 4_999) == {}  # not due: no attempt
    assert post.calls == 1
    assert await outbox.flush(alice, t0 + 5_000) != {}  # due, still down: backoff doubles
    assert alice.store.outbox_item(mid).next_at == t0 + 5_000 + 10_000
    post.fail = None  # the provider is back
    assert await outbox.flush(alice, t0 + 14_999) == {}
    assert await outbox.flush(alice, t0 + 15_000) == {mid: None}
    assert alice.store.outbox() == [] and "outbox" not in alice.store.message(mid).meta
    await bob.sync(clock())
    assert _texts(bob) == ["while the provider is down"]


async def test_rate_limit_waits_as_long_as_the_provider_says(pair) -> None:
    alice, _bob, conv, clock = pair
    post = Faulty(alice)
    post.fail = RateLimited("slow down", retry_after_ms=90_000)
    t0 = clock()
    mid = await messaging.send_text(alice, conv, "later", t0)
    assert alice.store.outbox_item(mid).next_at == t0 + 90_000


async def test_a_retry_after_a_lost_answer_arrives_once_and_reuses_no_generation(pair) -> None:
    alice, bob, conv, clock = pair
    post = Faulty(alice)
    post.fail, post.after_delivery = ServerError("provider error: timeout"), True
    mid = await messaging.send_text(alice, conv, "exactly once", clock())
    assert alice.store.outbox_item(mid).state == "pending"
    post.fail = None
    assert await outbox.flush(alice, clock(), force=True) == {mid: None}
    await bob.sync(clock())
    await alice.sync(clock())
    assert _texts(bob) == ["exactly once"]  # two posts, one message (same message id)
    assert _errors(bob) == [] and _errors(alice) == []  # both decrypted: fresh generations


async def test_a_retry_in_a_new_epoch_is_encrypted_again(pair) -> None:
    alice, bob, conv, clock = pair
    post = Faulty(alice)
    post.fail = ServerError("cannot reach the provider: ConnectError")
    state = alice.store.load_group(conv["group_id"])
    before = alice.engine.epoch(state)
    mid = await messaging.send_text(alice, conv, "after the update", clock())
    assert alice.store.outbox_item(mid).state == "pending"
    await convs.commit(bob, convs.find(bob, "pair"), clock(), update=True)  # a new epoch
    post.fail = None
    await alice.sync(clock() + 60_000)  # the commit first, then the outbox, in the new epoch
    assert alice.store.outbox() == []
    assert alice.engine.epoch(alice.store.load_group(conv["group_id"])) == before + 1
    await bob.sync(clock())
    assert _texts(bob) == ["after the update"] and _errors(bob) == []


async def test_removed_from_the_group_is_a_final_failure(pair) -> None:
    alice, bob, conv, clock = pair
    post = Faulty(alice)
    post.fail = ServerError("cannot reach the provider: ConnectError")
    mid = await messaging.send_text(alice, conv, "too late", clock())
    await convs.remove_member(bob, convs.find(bob, "pair"), alice.identity.account, clock())
    post.fail = None
    await alice.sync(clock())  # applies the removal, then retries what is due
    await alice.sync(clock() + 60_000)
    item = alice.store.outbox_item(mid)
    assert item.state == "failed"
    assert item.error.startswith("you were removed from pair (by bob")
    assert item.error.endswith("(membership)")
    assert alice.store.message(mid).meta["outbox"] == "failed"
    calls = post.calls
    await alice.sync(clock() + 3_600_000)
    assert post.calls == calls  # final: never attempted again


async def test_a_refusal_is_said_at_once_and_not_retried(pair) -> None:
    alice, _bob, conv, clock = pair
    post = Faulty(alice)
    post.fail = ValidationError("the post is too large", "Accord limits")
    with pytest.raises(ValidationError) as exc:
        await messaging.send_text(alice, conv, "refused", clock())
    assert exc.value.rule == "Accord limits"
    (item,) = alice.store.outbox()
    assert item.state == "failed"
    assert await outbox.flush(alice, clock() + 3_600_000, force=True) == {}


async def test_items_of_one_conversation_keep_their_order(pair) -> None:
    alice, bob, conv, clock = pair
    post = Faulty(alice)
    post.fail = ServerError("cannot reach the provider: ConnectError")
    first = await messaging.send_text(alice, conv, "first", clock())
    second = await messaging.send_text(alice, conv, "second", clock())
    assert post.calls == 2  # the first was tried again; the second waits behind it
    assert [i.msg_id for i in alice.store.outbox()] == [first, second]
    post.fail = None
    await alice.sync(clock() + 60_000)
    assert alice.store.outbox() == []
    await bob.sync(clock())
    assert _texts(bob) == ["first", "second"]


async def test_T06_a_key_change_after_queueing_holds_the_retry(pair) -> None:
    from tests.e2e.test_T06_key_change_gate import verified_before_a_change

    alice, bob, conv, clock = pair
    post = Faulty(alice)
    post.fail = ServerError("cannot reach the provider: ConnectError")
    mid = await messaging.send_text(alice, conv, "queued before the change", clock())
    verified_before_a_change(alice, bob.identity.account)  # bob's keys change meanwhile
    post.fail = None
    await alice.sync(clock() + 60_000)
    item = alice.store.outbox_item(mid)
    assert item.state == "held" and "changed" in item.error  # never accepted on its own
    await alice.sync(clock() + 3_600_000)
    assert alice.store.outbox_item(mid).state == "held"
    await bob.sync(clock())
    assert _texts(bob) == []
    accepted = outbox.named_accounts(alice, conv, clock(), True)  # the person says yes
    assert accepted == {bob.identity.account}
    assert await outbox.flush(alice, clock(), force=True, confirmed=accepted) == {mid: None}
    await bob.sync(clock())
    assert _texts(bob) == ["queued before the change"]
