"""The durable outbox (issue 19) against the in-memory provider: what an outage,
a rate limit, a refusal or an unconfirmed key change does to a queued message."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import history_transfer, messaging, outbox
from accord.client.api import ServerError
from accord.client.device import Device
from accord.client.safety import KeyChangeUnconfirmed
from accord.errors import NotFound, RateLimited, ValidationError
from accord.wire import b64e

from .fakes import NOW, FakeProvider

POSTS = r"/v1/groups/[^/]+/messages"


async def _alice(tmp_path: Path) -> tuple[FakeProvider, Device, dict]:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "alice@alpha.test")
    conv = await history_transfer.ensure_self_conversation(dev, NOW)
    return p, dev, conv


def test_backoff_doubles_from_five_seconds_up_to_an_hour() -> None:
    assert [outbox.backoff_ms(n) for n in (0, 1, 2, 3)] == [5_000, 5_000, 10_000, 20_000]
    assert outbox.backoff_ms(40) == outbox.MAX_RETRY_MS
    assert outbox.transient(ServerError("x")) and outbox.transient(RateLimited("x"))
    assert outbox.transient(outbox.GroupMoving("x"))
    assert not outbox.transient(ValidationError("x")) and not outbox.transient(NotFound("x"))


async def test_an_outage_keeps_the_message_pending_and_the_next_due_flush_sends_it(
        tmp_path: Path) -> None:
    p, dev, conv = await _alice(tmp_path)
    p.fail("POST", POSTS, 503, "unavailable")
    mid = await messaging.send_text(dev, conv, "during the outage", NOW)  # no exception
    item = dev.store.outbox_item(mid)
    assert (item.state, item.attempts, item.next_at) == ("pending", 1, NOW + 5_000)
    assert "provider error" in item.error
    assert dev.store.message(mid).meta["outbox"] == "pending"  # shown at once, marked
    view = outbox.view(dev, item)
    assert (view["id"], view["state"], view["next_attempt_at"], view["kind"]) == (
        mid.hex(), "pending", NOW + 5_000, "text")
    p.clear()
    assert await outbox.flush(dev, NOW + 4_999) == {}  # not due yet
    assert await outbox.flush(dev, NOW + 5_000) == {mid: None}
    assert dev.store.outbox() == [] and "outbox" not in dev.store.message(mid).meta
    assert dev.store.conversation(conv["conv_id"])["meta"]["sent_since_update"] == 1
    # the post reached the hub: it is in alice's own queue, encrypted
    assert [i.kind for i in p.row(dev).queue] == ["application"]
    assert b"during the outage" not in p.row(dev).queue[0].body


async def test_a_rate_limit_waits_at_least_as_long_as_the_provider_says(tmp_path: Path) -> None:
    p, dev, conv = await _alice(tmp_path)
    import httpx

    from .fakes import error

    def limited(_req: httpx.Request) -> httpx.Response:
        resp = error(429, "rate_limited")
        resp.headers["retry-after"] = "120"
        return resp

    p.answer("POST", POSTS, limited)
    mid = await messaging.send_text(dev, conv, "slow down", NOW)
    item = dev.store.outbox_item(mid)
    assert (item.state, item.next_at) == ("pending", NOW + 120_000)
    # a later message of the same conversation waits behind the pending one
    second = await messaging.send_text(dev, conv, "second", NOW + 1)
    # (the send forced a retry of the first, refused again; the second was not tried)
    assert dev.store.outbox_item(mid).attempts == 2
    assert dev.store.outbox_item(second).attempts == 0
    outcomes = await outbox.flush(dev, NOW + 200_000)
    assert list(outcomes) == [mid] and isinstance(outcomes[mid], RateLimited)
    p.clear()
    assert await outbox.flush(dev, NOW + 10**7) == {mid: None, second: None}


async def test_a_refusal_is_final_raised_and_the_message_is_marked_failed(tmp_path: Path) -> None:
    p, dev, conv = await _alice(tmp_path)
    p.fail("POST", POSTS, 422, "validation_error")
    with pytest.raises(ValidationError):
        await messaging.send_text(dev, conv, "refused", NOW)
    (item,) = dev.store.outbox()
    assert item.state == "failed" and dev.store.message(item.msg_id).meta["outbox"] == "failed"
    p.clear()
    assert await outbox.flush(dev, NOW + 10**9, force=True) == {}  # failed stays failed
    assert outbox.view(dev, item)["next_attempt_at"] is None


async def test_an_unconfirmed_key_change_holds_the_message_until_confirmed(
        tmp_path: Path) -> None:
    p, dev, conv = await _alice(tmp_path)
    p.fail("POST", POSTS, 503, "unavailable")
    mid = await messaging.send_text(dev, conv, "first", NOW)
    p.clear()
    # now our own key is "not in our log" (T06): the gate holds every send
    dev.store.put_json("kt:bad", [f"alice@alpha.test|{b64e(dev.signature_public_key)}"])
    outcomes = await outbox.flush(dev, NOW + 10_000)
    assert isinstance(outcomes[mid], KeyChangeUnconfirmed)
    assert dev.store.outbox_item(mid).state == "held"
    assert await outbox.flush(dev, NOW + 10**9) == {}  # held: waits for the person
    # the person confirms for the account the gate named
    assert outbox.named_accounts(dev, conv, NOW, True) == frozenset({"alice@alpha.test"})
    with pytest.raises(KeyChangeUnconfirmed):
        outbox.named_accounts(dev, conv, NOW, ["bob@alpha.test"])  # not the one named
    assert await outbox.flush(dev, NOW + 20_000, confirmed=["alice@alpha.test"]) == {mid: None}
    assert dev.store.outbox() == []


async def test_nothing_goes_to_a_conversation_we_left(tmp_path: Path) -> None:
    p, dev, conv = await _alice(tmp_path)
    p.fail("POST", POSTS, 503, "unavailable")
    mid = await messaging.send_text(dev, conv, "kept", NOW)
    p.clear()
    dev.store.update_conversation(conv["conv_id"], meta=dict(conv["meta"], active=False))
    dev.store.add_event(conv["conv_id"], NOW, "left", {})
    outcome = (await outbox.flush(dev, NOW + 10_000))[mid]
    assert isinstance(outcome, ValidationError) and "you left" in str(outcome)
    assert dev.store.outbox_item(mid).state == "failed"


async def test_an_item_is_dropped_by_a_unique_id_prefix(tmp_path: Path) -> None:
    p, dev, conv = await _alice(tmp_path)
    p.fail("POST", POSTS, 503, "unavailable")
    a = await messaging.send_text(dev, conv, "a", NOW)
    b = await messaging.send_text(dev, conv, "b", NOW)
    with pytest.raises(NotFound):
        outbox.drop(dev, "")
    with pytest.raises(NotFound):
        outbox.drop(dev, "zz")
    common = next(n for n in range(32) if a.hex()[n] != b.hex()[n])
    if common:
        with pytest.raises(ValidationError, match="2 outbox items"):
            outbox.drop(dev, a.hex()[:common])
    dropped = outbox.drop(dev, " " + a.hex()[:common + 1].upper())
    assert dropped.msg_id == a
    assert [i.msg_id for i in dev.store.outbox()] == [b]
    assert dev.store.message(a).meta["outbox"] == "failed"  # the message stays, marked
