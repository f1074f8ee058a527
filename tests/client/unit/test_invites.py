"""A stranger's invitation waits unparsed until accepted (T14, issue 18: ``invites``),
with its sealed first-contact preview checked (``first_contact``), on the
in-memory provider, which lists the group as a message request."""

from __future__ import annotations

from pathlib import Path

from accord.client import conversations as convs
from accord.client import first_contact, invites, message_requests, messaging, overview

from .fakes import FakeProvider


async def _invited(tmp_path: Path, text: str = "hello bob, it is alice"):
    p = FakeProvider()
    alice = await p.device(tmp_path / "alice", "alice@alpha.test")
    bob = await p.device(tmp_path / "bob", "bob@alpha.test")
    gid: list[bytes] = []

    real_commit = p.commit

    def listed(req, group):  # the provider lists the group as bob's request (T14)
        from accord.wire import b64d

        p.requests.setdefault("bob@alpha.test", {})[b64d(group)] = "alice@alpha.test"
        gid.append(b64d(group))
        return real_commit(req, group)

    p.commit = listed  # type: ignore[method-assign]
    ca = await convs.create(alice, "plans", ["bob@alpha.test"], p.now, first_message=text)
    p.commit = real_commit  # type: ignore[method-assign]
    return p, alice, bob, ca, gid[0]


async def test_T14_the_welcome_waits_unparsed_with_a_checked_preview(tmp_path: Path) -> None:
    p, alice, bob, ca, gid = await _invited(tmp_path)
    queued = [i.kind for i in p.row(bob).queue]
    assert queued[0] == "welcome" and set(queued[1:]) == {"application"}
    await bob.sync(p.now)
    assert bob.store.conversations() == []  # nothing parsed, no group state
    (req,) = invites.pending(bob)
    assert (req["group_id"], req["name"]) == (gid, "alice@alpha.test")
    assert req["meta"]["request"]["first_contact"]["state"] == "checked"
    assert req["meta"]["request"]["first_contact"]["preview"] == "hello bob, it is alice"
    # alice's first message and the room's notices, held unread
    assert invites.held_count(bob, req) == len(queued) - 1
    assert invites.find(bob, req["conv_id"]) == req and invites.find(bob, "nobody") is None
    (row,) = overview.summaries(bob)
    assert (row["request"], row["request_from"], row["unread"]) == (
        True, "alice@alpha.test", len(queued) - 1)
    # accepting parses the Welcome, then the held message
    applied = await message_requests.accept(bob, req, p.now)
    assert applied == len(queued) - 1
    (conv,) = bob.store.conversations()
    assert conv["meta"]["request"] == {"from": "alice@alpha.test", "state": "accepted"}
    assert [m.body for m in bob.store.messages(conv["conv_id"])] == ["hello bob, it is alice"]
    assert invites.pending(bob) == [] and p.requests["bob@alpha.test"] == {}
    await messaging.send_text(bob, conv, "hi alice", p.now)
    await alice.sync(p.now)
    assert [m.body for m in alice.store.messages(ca["conv_id"])][-1] == "hi alice"


async def test_T14_a_forged_first_contact_is_dropped_with_its_reason(tmp_path: Path) -> None:
    p, alice, bob, ca, gid = await _invited(tmp_path)
    key = (gid, bob.identity.device_id)
    forged = bytearray(p.first_contacts[key])
    forged[-3] ^= 1
    p.first_contacts[key] = bytes(forged)
    await bob.sync(p.now)
    (req,) = invites.pending(bob)
    result = req["meta"]["request"]["first_contact"]
    assert result["state"] == "dropped" and result["reason"]
    assert "preview" not in result
    assert bob.store.get_json(first_contact.SEALED) == {}  # decided: not kept


async def test_T14_what_arrives_before_the_accept_is_held_not_read(tmp_path: Path) -> None:
    p, alice, bob, ca, gid = await _invited(tmp_path)
    first = len(p.row(bob).queue) - 1  # after the Welcome: the first message, notices
    for n in range(3):
        await messaging.send_text(alice, ca, f"more {n}", p.now + n)
    await convs.rename(alice, ca, "new plans", p.now + 5)
    await bob.sync(p.now + 10)
    (req,) = invites.pending(bob)
    assert invites.held_count(bob, req) == first + 4  # three messages and a commit, unread
    assert bob.store.conversations() == []
    assert await message_requests.accept(bob, req, p.now + 11) == first + 4
    (conv,) = bob.store.conversations()
    assert [m.body for m in bob.store.messages(conv["conv_id"])] == [
        "hello bob, it is alice", "more 0", "more 1", "more 2"]
    assert conv["name"] == "new plans"


async def test_T14_a_welcome_that_is_not_for_the_listed_group_leaves_a_trace(
        tmp_path: Path) -> None:
    p, alice, bob, ca, gid = await _invited(tmp_path)
    await bob.sync(p.now)
    (req,) = invites.pending(bob)
    # the held Welcome is replaced by garbage: the accept keeps a trace, no crash
    entry = bob.store.get_json(invites.KEY)
    from accord.wire import dumps, parse
    from accord.wire import messages as m

    item = parse(m.QueueItem, bytes.fromhex(entry[gid.hex()]["welcome"]))
    entry[gid.hex()]["welcome"] = dumps(m.QueueItem(
        seq=item.seq, msg_id=item.msg_id, kind="welcome", body=b"\x00\x01junk",
        created_at=item.created_at, group_id=gid)).hex()
    bob.store.put_json(invites.KEY, entry)
    assert await message_requests.accept(bob, req, p.now) == 0
    (conv,) = bob.store.conversations()
    assert conv["meta"]["active"] is False and conv["meta"]["request"]["state"] == "failed"
    assert [e["detail"]["what"] for e in bob.store.events(conv["conv_id"])
            if e["kind"] == "error"] == ["the invitation could not be joined"]
    assert invites.pending(bob) == []


async def test_T14_a_first_contact_signed_by_a_key_not_in_the_senders_log_is_dropped(
        tmp_path: Path) -> None:
    p, alice, bob, ca, gid = await _invited(tmp_path)
    # alice's provider log no longer lists the key that signed the request
    p.log.publish("alice@alpha.test", [b"\x07" * 32], p.now)
    await bob.sync(p.now)
    (req,) = invites.pending(bob)
    assert req["meta"]["request"]["first_contact"] == {
        "state": "dropped", "reason": "key_not_in_log"}


async def test_T14_an_unreachable_log_leaves_the_first_contact_for_the_next_sync(
        tmp_path: Path) -> None:
    p, alice, bob, ca, gid = await _invited(tmp_path)
    p.fail("GET", r"/v1/transparency/lookup/.*", 503, "unavailable")
    await bob.sync(p.now)
    (req,) = invites.pending(bob)
    assert req["meta"]["request"]["first_contact"] is None  # undecided, kept
    assert bob.store.get_json(first_contact.SEALED) != {}
    p.clear()
    assert await first_contact.open_waiting(bob, p.now) == 1
    (req,) = invites.pending(bob)
    assert req["meta"]["request"]["first_contact"]["state"] == "checked"
