"""MIMI content is the body of every application message (issue 22): every content
kind sent by a device on alpha.test reads right on a device on beta.test, each body
is draft-ietf-mimi-content-08 content naming its sender and room, what Accord cannot
show is said as unsupported, a content naming another sender than MLS authenticated
is refused, and neither provider stores anything but ciphertext."""

from __future__ import annotations

import os
from typing import Any

from accord.client import conversations as convs
from accord.client import delivery, history, messaging, posting, rooms
from accord.content import ReadReceipt, mimi
from accord.content.mimi_map import ACCORD_EXTENSION, mention
from accord.content.mimi_status import STATUS_TYPE, MessageStatus, decode_status
from accord.wire.mimi import mimi_room_uri, mimi_user_uri
from tests.e2e.helpers import Clock
from tests.engine import stored_needles
from tests.federation.groups import arrive, events_of, next_push, people, until
from tests.federation.providers import Provider


def _raw(dev: Any, conv: dict[str, Any], body: mimi.NestedPart, clock: Clock, *,
         sender: str | None = None) -> tuple[bytes, bytes]:
    """A MIMI content as another MIMI client could send it (parts Accord never makes);
    (plaintext, salt). ``post_sealed`` franks it like every body."""
    salt = os.urandom(16)
    ext = {1: sender or rooms.sender_uri(dev.identity.account),
           2: rooms.room_uri(dev, conv["group_id"]), ACCORD_EXTENSION: {1: clock()}}
    data = mimi.encode_content(mimi.MimiContent(salt, None, b"", None, None, ext, body))
    return data, salt


async def test_every_content_kind_round_trips_as_mimi_content_across_two_providers(
    providers: dict[str, Provider], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    alice, bob = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta")
    a, b = alice.identity.account, bob.identity.account
    try:
        conv = await convs.create(alice, "mimi body", [b], clock())
        bconv = await arrive(bob, "mimi body", clock)
        cid = bconv["conv_id"]

        def msg(mid: bytes) -> Any:
            return bob.store.message(mid)

        # text, plain and markdown, with mentions (a member, and a non-member: no mention)
        plain = await messaging.send_text(alice, conv, "plain words", clock())
        marked = await messaging.send_text(
            alice, conv, f"**hello** {mention('bob', mimi_user_uri(b))} and "
            f"{mention('eve', 'mimi://gamma.test/u/eve')}", clock(), markdown=True)
        topical = await messaging.send_text(alice, conv, "in a thread", clock(),
                                            topic=b"thread-1")
        reply = await messaging.send_text(alice, conv, "a reply", clock(), reply_to=plain)
        await until(bob, clock, lambda: msg(reply))
        assert (msg(plain).body, msg(plain).kind, msg(plain).sender) == ("plain words", "text", a)
        assert msg(plain).meta.get("markdown") is None
        assert msg(marked).meta["markdown"] and msg(marked).meta["mentions"] == [b]
        assert msg(topical).meta["topic"] == b"thread-1".hex()
        assert msg(reply).reply_to == plain

        # every body is MIMI content naming alice and the room; its MIMI ID is the one
        # bob's index holds, computed from the authenticated sender and room (3.3)
        body = bytes.fromhex(msg(plain).meta["franking"]["content"])
        m = mimi.decode_content(body)
        room = mimi_room_uri("alpha.test", bconv["group_id"])
        assert (m.salt, m.sender_uri, m.room_uri) == (plain, mimi_user_uri(a), room)
        assert mimi.encode_content(m) == body  # exactly the draft's deterministic CBOR
        index = rooms.index(bob, bconv)
        assert index.mimi_id(plain) == mimi.message_id(body, mimi_user_uri(a), room)
        assert rooms.index(alice, conv).mimi_id(plain) == index.mimi_id(plain)
        reply_body = mimi.decode_content(bytes.fromhex(msg(reply).meta["franking"]["content"]))
        assert reply_body.in_reply_to == index.mimi_id(plain)

        # reaction and its removal, edit, delete
        await messaging.react(alice, conv, plain, "👍", clock())
        await until(bob, clock, lambda: msg(plain).meta["reactions"] == {"👍": [a]})
        await messaging.react(alice, conv, plain, "👍", clock(), remove=True)
        await messaging.edit(alice, conv, marked, "edited words", clock())
        await messaging.delete(alice, conv, topical, clock())
        await until(bob, clock, lambda: msg(topical).deleted)
        assert msg(plain).meta["reactions"] == {}
        assert (msg(marked).body, msg(marked).edited) == ("edited words", True)

        # expiring: the timer, then a text that disappears with it
        await messaging.set_timer(alice, alice.store.conversation(conv["conv_id"]), 60, clock())
        brief = await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                          "soon gone", clock())
        await until(bob, clock, lambda: msg(brief))
        assert bob.store.conversation(cid)["meta"]["timer"] == 60
        assert msg(brief).expires_at == msg(brief).sent_at + 60_000
        await messaging.set_timer(alice, alice.store.conversation(conv["conv_id"]), 0, clock())

        # attachments: a processAll multipart of the text and an external part
        data = os.urandom(40_000)
        filed = await messaging.send_file(alice, alice.store.conversation(conv["conv_id"]),
                                          data, "notes.bin", "application/octet-stream",
                                          clock(), text="see the file")
        await until(bob, clock, lambda: msg(filed))
        assert (msg(filed).kind, msg(filed).body) == ("file", "see the file")
        assert await messaging.fetch_attachment(bob, filed) == ("notes.bin", data)
        file_body = mimi.decode_content(bytes.fromhex(msg(filed).meta["franking"]["content"]))
        assert isinstance(file_body.body, mimi.MultiPart)
        assert isinstance(file_body.body.parts[1], mimi.ExternalPart)

        # read receipts, back across the providers
        assert await messaging.mark_read(bob, bconv, clock()) >= 5
        await until(alice, clock, lambda: b in alice.store.message(plain).meta["read_by"])

        # a MIMI client's alternatives (chooseOne): the first Accord can show
        aconv = alice.store.conversation(conv["conv_id"])
        choice = mimi.MultiPart(1, "", mimi.PartSemantics.CHOOSE_ONE, (
            mimi.SinglePart(1, "", "application/x-rich", b"\x00"),
            mimi.SinglePart(1, "", "text/plain;charset=utf-8", b"the plain alternative")))
        data_, chosen = _raw(alice, aconv, choice, clock)
        await posting.post_sealed(alice, aconv, data_, clock())
        # unknown parts and an unknown disposition: shown as unsupported, never a crash
        odd = mimi.SinglePart(42, "", "application/x-hologram", b"\x01\x02")
        data_, unknown = _raw(alice, aconv, odd, clock)
        await posting.post_sealed(alice, aconv, data_, clock())
        await until(bob, clock, lambda: msg(unknown))
        assert msg(chosen).body == "the plain alternative"
        assert msg(unknown).kind == "unsupported" and "application/x-hologram" in msg(unknown).body

        # a content naming another sender than the one MLS authenticated: refused (9.1)
        errors = len([e for e in bob.store.events(cid) if e["kind"] == "error"])
        data_, forged = _raw(alice, aconv, mimi.SinglePart(
            1, "", "text/plain", b"I am bob"), clock, sender=mimi_user_uri(b))
        await posting.post_sealed(alice, aconv, data_, clock())
        await events_of(bob, cid, "error", clock, errors + 1)
        assert all(x.msg_id != forged for x in bob.store.messages(cid))
    finally:
        for d in (alice, bob):
            await d.disconnect()

    # neither provider stores anything but ciphertext: no text, file name or file byte
    needles = [b"plain words", b"**hello**", b"in a thread", b"thread-1", b"a reply",
               b"edited words", b"soon gone", b"see the file", b"notes.bin", data[:48],
               b"the plain alternative", b"application/x-hologram", b"I am bob"]
    for name in ("alpha", "beta"):
        p = providers[name]
        assert stored_needles(p.data_dir, needles, p.database) == [], name


async def test_delivery_and_read_reports_cross_two_providers_as_mimi_message_status(
    providers: dict[str, Provider], tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """bob's device reports alice's text delivered when it arrives and read when bob
    reads it, each once, as a MIMI message status report sealed like any message;
    alice sees the status per recipient, and owes no report for a report."""
    sent: list[tuple[str, Any]] = []
    send_body = messaging.send_body

    async def spy(dev: Any, conv: dict[str, Any], body: Any, now: int, **kw: Any) -> bytes:
        sent.append((dev.identity.account, body))
        return await send_body(dev, conv, body, now, **kw)

    posted: list[tuple[str, bytes]] = []
    post_sealed = messaging.post_sealed

    async def post_spy(dev: Any, conv: dict[str, Any], plaintext: bytes, *args: Any,
                       **kw: Any) -> Any:
        posted.append((dev.identity.account, plaintext))
        return await post_sealed(dev, conv, plaintext, *args, **kw)

    monkeypatch.setattr(messaging, "send_body", spy)
    monkeypatch.setattr(messaging, "post_sealed", post_spy)
    clock = Clock()
    alice, bob = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta")
    a, b = alice.identity.account, bob.identity.account
    try:
        conv = await convs.create(alice, "reports", [b], clock())
        bconv = await arrive(bob, "reports", clock)
        hello = await messaging.send_text(alice, conv, "hello bob", clock())

        def status() -> dict[str, str]:
            return delivery.status(alice.store.message(hello).meta)

        # bob's sync that takes the text sends its delivery report
        await until(bob, clock, lambda: bob.store.message(hello))
        reports = [x for who, x in sent if who == b and isinstance(x, ReadReceipt)]
        assert [(r.message_ids, r.delivered) for r in reports] == [((), (hello,))]
        # alice takes it (catch_up: no duties yet): delivered, and nothing owed for it
        for _ in range(40):
            await alice.catch_up(clock())
            if status():
                break
            await next_push(alice)
        assert status() == {b: "delivered"}
        assert alice.store.get_json(delivery.DUE_KEY, {}) == {}
        view = history.message_view(alice.store.message(hello))
        assert (view["status"], view["delivered_to"], view["read_by"]) == ({b: "delivered"}, [b], [])

        # on the wire: MIMI content whose body is one message status report part
        (wire,) = [p for who, p in posted if who == b]
        part = mimi.decode_content(wire).body
        assert isinstance(part, mimi.SinglePart) and part.content_type == STATUS_TYPE
        hello_id = rooms.index(bob, bconv).mimi_id(hello)
        assert decode_status(part.content) == ((hello_id, MessageStatus.DELIVERED),)
        await alice.sync(clock())
        # bob reads: one read report; reading again sends nothing
        assert await messaging.mark_read(bob, bob.store.conversation(bconv["conv_id"]), clock()) == 1
        assert await messaging.mark_read(bob, bob.store.conversation(bconv["conv_id"]), clock()) == 0
        await until(alice, clock, lambda: status() == {b: "read"})
        await bob.sync(clock())
        bob_reports = [x for who, x in sent if who == b and isinstance(x, ReadReceipt)]
        assert [(r.message_ids, r.delivered) for r in bob_reports] == [((), (hello,)), ((hello,), ())]
        assert not [x for who, x in sent if who == a and isinstance(x, ReadReceipt)]

        # delivery reports off (a local preference, the draft's section 6): none goes
        bob.set_settings(delivery_reports=0)
        quiet = await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                          "unreported", clock())
        await until(bob, clock, lambda: bob.store.message(quiet))
        await bob.sync(clock())
        assert [x for who, x in sent if who == b and isinstance(x, ReadReceipt)] == bob_reports
    finally:
        for d in (alice, bob):
            await d.disconnect()
