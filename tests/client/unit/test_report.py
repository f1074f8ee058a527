"""Reporting a received message (``report``, T13): the franking evidence kept on receipt
and what is revealed to the provider, on the in-memory provider."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import messaging, report, rooms
from accord.client.mls_session import Received
from accord.content import Reaction, Text, make_content, seal
from accord.errors import AccordError, NotFound, ValidationError
from accord.mls.structs.app_data import SafeAAD
from accord.privacy import server_frank
from accord.privacy.franking import message_aad
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import parse
from accord.wire import privacy as w
from accord.wire.mimi import Frank
from accord.wire.mimi_frank import FrankingAgentData
from accord.wire.mimi_room import FRANKING_SIGNATURE_KEY

from .fakes import NOW, ok, pair

TAG = b"\x07" * 32
HUB_KEY = b"\x05" * 32


def _received(bob, conv, body, sender: str = "alice@alpha.test") -> tuple[bytes, bytes]:
    """A content of ``sender`` applied on bob's device: (message id, its MIMI body)."""
    content = make_content(body, random_bytes=os.urandom, sent_at=NOW, expires_after=0)
    sealed = seal(content, rooms.index(bob, conv), rooms.sender_uri(sender),
                  "mimi://alpha.test/r/room")
    messaging.apply(bob, conv, content, sender, "D" * 22, NOW, mimi_id=sealed.mimi_id)
    return content.message_id, sealed.plaintext


def _frank(p, bob, conv, sender: str | None = "alice@alpha.test", *, at: int = NOW - 5,
           room: str | None = None, key: bytes | None = None, suite: int | None = None
           ) -> bytes:
    """The Frank the hub (the fake provider, whose Ed25519 key is the room's franking
    agent) gives a message of ``sender`` (None: a hidden sender)."""
    state = bob.store.load_group(conv["group_id"])
    ctx = server_frank.context(None if sender is None else rooms.sender_uri(sender),
                               room or rooms.room_uri(bob, conv["group_id"]), at)
    signing = key if key is not None else p.log_key.private_bytes_raw()
    return server_frank.make(HUB_KEY, TAG, ctx, suite or bob.engine.cipher_suite(state),
                             signing).to_bytes()


def _item(conv, frank: bytes | None) -> m.QueueItem:
    return m.QueueItem(seq=1, msg_id="m1", kind="application", body=b"", created_at=NOW - 5,
                       group_id=conv["group_id"], frank=frank)


def _remember(bob, conv, frank: bytes | None, plaintext: bytes,
              sender: str = "alice@alpha.test", aad: bytes | None = None) -> None:
    r = Received(state=bob.store.load_group(conv["group_id"]), kind="application",
                 sender=f"{sender}/{'D' * 22}".encode(), epoch=0, plaintext=plaintext,
                 authenticated_data=message_aad(bytes(8), TAG) if aad is None else aad)
    report.remember(bob, conv, _item(conv, frank), r)


async def test_T13_evidence_is_kept_only_for_a_stored_message_with_a_frank(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    state = bob.store.load_group(cb["group_id"])
    agent = FrankingAgentData.from_bytes(
        bob.engine.group_component(state, FRANKING_SIGNATURE_KEY))
    assert agent.credential.identity == b"alpha.test"  # the room's hub, its creator's provider
    msg_id, plaintext = _received(bob, cb, Text("look at this"))
    _remember(bob, cb, None, plaintext)  # no frank: nothing kept
    assert "franking" not in bob.store.message(msg_id).meta
    frank = _frank(p, bob, cb)
    _remember(bob, cb, frank, plaintext)
    kept = bob.store.message(msg_id).meta["franking"]
    assert kept["frank"] == frank.hex() and kept["group_id"] == cb["group_id"].hex()
    assert kept["sender_uri"] == "mimi://alpha.test/u/alice"
    assert kept["created_at"] == NOW - 5 and bytes.fromhex(kept["content"]) == plaintext
    # a hidden sender's frank (T11): its context names no sender
    _remember(bob, cb, _frank(p, bob, cb, None), plaintext)
    assert bob.store.message(msg_id).meta["franking"]["sender_uri"] == ""
    # a reaction is not stored as a message: nothing to report on its own
    _, other = _received(bob, cb, Reaction(msg_id, "+1"))
    _remember(bob, cb, frank, other)


async def test_T13_a_frank_that_does_not_verify_is_dropped_and_the_message_kept(
        tmp_path: Path) -> None:
    """MIMI 5.4.1.3: each check of the receiver, one altered frank each."""
    p, alice, bob, ca, cb = await pair(tmp_path)
    good = _frank(p, bob, cb)
    parsed = Frank.from_bytes(good)
    other_key = Ed25519PrivateKey.generate().private_bytes_raw()
    forged = {
        "another server frank": Frank(bytes(32), parsed.franking_signature_ciphersuite,
                                      parsed.franking_integrity_signature).to_bytes(),
        "another signature": Frank(parsed.server_frank, parsed.franking_signature_ciphersuite,
                                   bytes(64)).to_bytes(),
        "another hub's key": _frank(p, bob, cb, key=other_key),
        "another sender": _frank(p, bob, cb, "mallory@alpha.test"),
        "another room": _frank(p, bob, cb, room="mimi://alpha.test/r/other"),
        "another time": _frank(p, bob, cb, at=NOW - 6),
        "another suite": _frank(p, bob, cb, suite=3),
        "the signature stripped": Frank(parsed.server_frank, 0, b"").to_bytes(),
        "not a frank": b"\x01" * 32,
    }
    for what, frank in forged.items():
        msg_id, plaintext = _received(bob, cb, Text(what))
        _remember(bob, cb, frank, plaintext)
        meta = bob.store.message(msg_id).meta
        assert "franking" not in meta and meta["unfrankable"], what
        with pytest.raises(ValidationError, match="did not verify"):
            await report.report(bob, cb, msg_id)
    # a frank of a message whose Safe AAD carries no franking tag (frank_aad)
    msg_id, plaintext = _received(bob, cb, Text("no tag"))
    _remember(bob, cb, good, plaintext, aad=SafeAAD.of({}).to_bytes())
    assert "franking" not in bob.store.message(msg_id).meta
    msg_id, plaintext = _received(bob, cb, Text("the good one"))
    _remember(bob, cb, good, plaintext)
    assert "franking" in bob.store.message(msg_id).meta


async def test_T13_a_report_reveals_the_evidence_and_blocks_when_asked(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    msg_id, plaintext = _received(bob, cb, Text("spam"))
    frank = _frank(p, bob, cb)
    _remember(bob, cb, frank, plaintext)
    got: list[w.ReportRequest] = []
    blocked: list[str] = []

    def reports(req: httpx.Request) -> httpx.Response:
        got.append(parse(w.ReportRequest, req.content))
        return ok(w.ReportResult(True, "alpha.test", 7))

    def blocks(req: httpx.Request) -> httpx.Response:
        blocked.append(json.loads(req.content)["target"])
        return ok(fw.BlockList(blocked))

    p.answer("POST", r"/v1/reports", reports)
    p.answer("POST", r"/v1/blocks", blocks)
    result = await report.report(bob, cb, msg_id, block=True)
    assert result.verified and result.report_id == 7
    (sent,) = got
    assert (sent.group_id, sent.frank, sent.alleged_sender, sent.created_at) == (
        cb["group_id"], frank, "alice@alpha.test", NOW - 5)
    assert blocked == ["alice@alpha.test"]
    assert bob.store.message(msg_id).meta["reported"] is True


async def test_T13_refusals_before_and_after_the_provider(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    msg_id, plaintext = _received(bob, cb, Text("no evidence yet"))
    with pytest.raises(ValidationError, match="no franking evidence"):
        await report.report(bob, cb, msg_id)
    mine, own = _received(bob, cb, Text("mine"), sender="bob@alpha.test")
    _remember(bob, cb, _frank(p, bob, cb, "bob@alpha.test"), own, sender="bob@alpha.test")
    with pytest.raises(ValidationError, match="your own message"):
        await report.report(bob, cb, mine)
    with pytest.raises(NotFound):
        await report.report(bob, cb, b"\x00" * 16)
    _remember(bob, cb, _frank(p, bob, cb), plaintext)
    p.answer("POST", r"/v1/reports", lambda _r: ok(w.ReportResult(False, "alpha.test")))
    with pytest.raises(AccordError, match="could not verify"):
        await report.report(bob, cb, msg_id)
    assert "reported" not in bob.store.message(msg_id).meta
