"""Message requests (``message_requests``, ``consent``, T14): what a pending request
holds, the person's answers (accept, block, report), an accept made on another device,
and blocks, on the in-memory provider."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from accord.client import consent, message_requests, messaging
from accord.client import conversations as convs
from accord.errors import ValidationError
from accord.wire import federation as fw
from accord.wire import parse
from accord.wire import privacy as w

from .fakes import NOW, FakeProvider, ok

ALICE, BOB = "alice@alpha.test", "bob@alpha.test"


async def _invited(tmp_path: Path, *, listed: bool):
    """alice invites bob (listed by bob's provider as a request or not); bob synced."""
    p = FakeProvider()
    alice = await p.device(tmp_path / "alice", ALICE)
    bob = await p.device(tmp_path / "bob", BOB)
    blocked: list[str] = []

    def block(req: httpx.Request) -> httpx.Response:
        blocked.append(parse(fw.BlockRequest, req.content).target)
        p.blocks[BOB] = list(blocked)
        return ok(fw.BlockList(blocked))

    p.answer("POST", r"/v1/blocks", block)
    conv = await convs.create(alice, "hello", [BOB], NOW)
    if listed:
        p.requests.setdefault(BOB, {})[conv["group_id"]] = ALICE
    await bob.sync(NOW + 1)
    return p, alice, bob, conv, blocked


async def test_T14_a_request_holds_its_messages_unread_until_accepted(tmp_path: Path) -> None:
    p, alice, bob, ca, _ = await _invited(tmp_path, listed=False)
    await messaging.send_text(alice, ca, "hi bob, it's alice", NOW + 2)
    await bob.sync(NOW + 3)
    (req,) = message_requests.pending(bob)
    assert consent.is_pending(req) and req["meta"]["request"]["listed"] is False
    info = message_requests.summary(bob, req)
    assert (info["from"], info["previews"]) == (ALICE, ["hi bob, it's alice"])
    assert await messaging.mark_read(bob, req, NOW) == 0  # reading is not accepting
    with pytest.raises(ValidationError, match="pending message request"):
        await messaging.send_text(bob, req, "answer", NOW)
    with pytest.raises(ValidationError, match="block it instead"):
        await message_requests.report(bob, req, NOW)  # the provider has no record
    assert await message_requests.accept(bob, req, NOW + 4) == 1 + 2  # the room's notices too
    conv = bob.store.conversation(req["conv_id"])
    assert not consent.is_pending(conv) and conv["meta"]["request"]["state"] == "accepted"
    assert [m_.body for m_ in bob.store.messages(conv["conv_id"])] == ["hi bob, it's alice"]
    with pytest.raises(ValidationError, match="not a pending"):
        await message_requests.accept(bob, conv, NOW)
    assert await message_requests.reconcile(bob, NOW) == 0  # nothing waits


async def test_T14_blocking_a_request_drops_it_and_its_sender_s_posts(tmp_path: Path) -> None:
    p, alice, bob, ca, blocked = await _invited(tmp_path, listed=False)
    await messaging.send_text(alice, ca, "buy now", NOW + 2)
    await bob.sync(NOW + 3)
    (req,) = message_requests.pending(bob)
    assert await message_requests.block(bob, req, NOW + 4, domain=True) == "alpha.test"
    assert blocked == ["alpha.test"]
    conv = bob.store.conversation(req["conv_id"])
    assert conv["meta"]["active"] is False and conv["meta"]["request"]["state"] == "blocked"
    assert bob.store.get_json("held:" + conv["conv_id"]) is None
    assert consent.is_blocked(bob, alice.identity.mls_identity)
    with pytest.raises(ValidationError, match="not a message request"):
        await message_requests.block(bob, dict(conv, meta={}), NOW)


async def test_T14_a_blocked_sender_s_next_invitation_is_dropped_at_once(tmp_path: Path) -> None:
    p, alice, bob, ca, blocked = await _invited(tmp_path, listed=False)
    await message_requests.block_target(bob, ALICE)
    again = await convs.create(alice, "again", [BOB], NOW + 2)
    await bob.sync(NOW + 3)
    conv = bob.store.conversation_of_group(again["group_id"])
    assert conv["meta"]["request"]["state"] == "blocked" and conv["meta"]["active"] is False


async def test_T14_an_accept_on_another_device_is_followed(tmp_path: Path) -> None:
    p, alice, bob, ca, _ = await _invited(tmp_path, listed=True)
    (req,) = message_requests.pending(bob)
    assert req["meta"]["request"]["deferred"] is True  # the Welcome waits unparsed
    assert await message_requests.reconcile(bob, NOW + 2) == 0  # still listed
    del p.requests[BOB][ca["group_id"]]  # accepted elsewhere: no longer listed
    assert await message_requests.reconcile(bob, NOW + 3) == 1
    conv = bob.store.conversation_of_group(ca["group_id"])
    assert conv["meta"]["request"]["state"] == "accepted" and conv["meta"]["active"]


async def test_T13_reporting_a_listed_request_files_it_and_blocks(tmp_path: Path) -> None:
    p, alice, bob, ca, blocked = await _invited(tmp_path, listed=True)
    (req,) = message_requests.pending(bob)
    filed: list[str] = []

    def report(req_: httpx.Request) -> httpx.Response:
        filed.append(req_.url.path)
        return ok(w.ReportResult(True, "alpha.test", 1))

    p.answer("POST", r"/v1/requests/[^/]+/report", report)
    assert await message_requests.report(bob, req, NOW + 2) == ALICE
    assert len(filed) == 1 and blocked == [ALICE]
    assert message_requests.pending(bob) == []  # the invitation is forgotten unread


async def test_blocks_made_elsewhere_are_followed_on_a_schedule(tmp_path: Path) -> None:
    p, alice, bob, ca, _ = await _invited(tmp_path, listed=False)
    every = message_requests.BLOCKS_EVERY_MS
    p.blocks[BOB] = ["mallory@alpha.test"]
    await message_requests.refresh_blocks(bob, NOW + 2)  # the sync at NOW + 1 looked
    assert bob.store.get_json("blocks")["targets"] == []
    await message_requests.refresh_blocks(bob, NOW + 1 + every)
    assert bob.store.get_json("blocks")["targets"] == ["mallory@alpha.test"]
    p.blocks[BOB] = []
    await message_requests.refresh_blocks(bob, NOW + 2 + every)  # not due yet
    assert bob.store.get_json("blocks")["targets"] == ["mallory@alpha.test"]
    await message_requests.refresh_blocks(bob, NOW + 1 + 2 * every)
    assert bob.store.get_json("blocks")["targets"] == []


async def test_a_held_message_that_cannot_be_applied_leaves_a_trace(tmp_path: Path) -> None:
    p, alice, bob, ca, _ = await _invited(tmp_path, listed=False)
    (req,) = message_requests.pending(bob)
    bob.store.put_json("held:" + req["conv_id"], [{
        "sender": alice.identity.mls_identity.hex(), "epoch": 1, "plaintext": "00",
        "aad": "00" * 41, "created_at": NOW}])
    assert message_requests.apply_held(bob, req, NOW + 2) == 0
    errors = [e for e in bob.store.events(req["conv_id"]) if e["kind"] == "error"]
    assert errors and errors[-1]["detail"]["what"] == "a held message could not be applied"
