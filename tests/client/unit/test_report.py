"""Reporting a received message (``report``, T13): the franking evidence kept on receipt
and what is revealed to the provider, on the in-memory provider."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from accord.client import messaging, report, rooms
from accord.content import Reaction, Text, make_content, seal
from accord.errors import AccordError, NotFound, ValidationError
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import parse
from accord.wire import privacy as w

from .fakes import NOW, ok, pair

TAG = b"\x07" * 32


def _received(bob, conv, body, sender: str = "alice@alpha.test") -> tuple[bytes, bytes]:
    """A content of ``sender`` applied on bob's device: (message id, its MIMI body)."""
    content = make_content(body, random_bytes=os.urandom, sent_at=NOW, expires_after=0)
    sealed = seal(content, rooms.index(bob, conv), rooms.sender_uri(sender),
                  "mimi://alpha.test/r/room")
    messaging.apply(bob, conv, content, sender, "D" * 22, NOW, mimi_id=sealed.mimi_id)
    return content.message_id, sealed.plaintext


def _item(conv, tag: bytes | None = TAG) -> m.QueueItem:
    return m.QueueItem(seq=1, msg_id="m1", kind="application", body=b"", created_at=NOW - 5,
                       group_id=conv["group_id"], franking_tag=tag)


async def test_T13_evidence_is_kept_only_for_a_stored_message_with_a_tag(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    msg_id, plaintext = _received(bob, cb, Text("look at this"))
    report.remember(bob, _item(cb, tag=None), plaintext)  # no tag: nothing kept
    assert "franking" not in bob.store.message(msg_id).meta
    report.remember(bob, _item(cb), plaintext)
    kept = bob.store.message(msg_id).meta["franking"]
    assert kept["tag"] == TAG.hex() and kept["group_id"] == cb["group_id"].hex()
    assert kept["created_at"] == NOW - 5 and bytes.fromhex(kept["content"]) == plaintext
    # a reaction is not stored as a message: nothing to report on its own
    _, other = _received(bob, cb, Reaction(msg_id, "+1"))
    report.remember(bob, _item(cb), other)


async def test_T13_a_report_reveals_the_evidence_and_blocks_when_asked(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    msg_id, plaintext = _received(bob, cb, Text("spam"))
    report.remember(bob, _item(cb), plaintext)
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
    assert (sent.group_id, sent.franking_tag, sent.alleged_sender, sent.created_at) == (
        cb["group_id"], TAG, "alice@alpha.test", NOW - 5)
    assert blocked == ["alice@alpha.test"]
    assert bob.store.message(msg_id).meta["reported"] is True


async def test_T13_refusals_before_and_after_the_provider(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    msg_id, plaintext = _received(bob, cb, Text("no evidence yet"))
    with pytest.raises(ValidationError, match="no franking evidence"):
        await report.report(bob, cb, msg_id)
    mine, own = _received(bob, cb, Text("mine"), sender="bob@alpha.test")
    report.remember(bob, _item(cb), own)
    with pytest.raises(ValidationError, match="your own message"):
        await report.report(bob, cb, mine)
    with pytest.raises(NotFound):
        await report.report(bob, cb, b"\x00" * 16)
    report.remember(bob, _item(cb), plaintext)
    p.answer("POST", r"/v1/reports", lambda _r: ok(w.ReportResult(False, "alpha.test")))
    with pytest.raises(AccordError, match="could not verify"):
        await report.report(bob, cb, msg_id)
    assert "reported" not in bob.store.message(msg_id).meta
