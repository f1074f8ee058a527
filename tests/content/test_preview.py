"""Quarantine previews of first contact (THREATS.md T14), over the MIMI body."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.content import (
    Attachment,
    Content,
    Header,
    Reaction,
    ReadReceipt,
    Text,
    mimi,
    quarantine_preview,
    seal,
)
from accord.content.mimi_map import MemoryIndex
from accord.errors import DecodeError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
HEADER = Header(b"\x07" * 16, 42, 0)
ALICE, ROOM = "mimi://a.example/u/alice", "mimi://a.example/r/room"


def _body(content: Content, index: MemoryIndex | None = None) -> bytes:
    return seal(content, index or MemoryIndex(), ALICE, ROOM).plaintext


def test_T14_preview_is_plain_bounded_text() -> None:
    p = quarantine_preview(_body(Content(HEADER, Text("hello\n\nfrom   a stranger " + "x" * 500))),
                           max_chars=40)
    assert p.kind == "text" and p.message_id == HEADER.message_id and p.sent_at == 42
    assert p.text == ("hello from a stranger " + "x" * 500)[:40] and p.truncated


def test_T14_attachments_are_never_read() -> None:
    att = Attachment("https://evil.example/track", b"k" * 32, b"h" * 32, 9, "image/png", "a.png")
    p = quarantine_preview(_body(Content(HEADER, Text("hi", None, (att,)))))
    assert p.kind == "text" and p.text == "hi" and "evil" not in repr(p)


def test_T14_other_kinds_show_only_their_kind() -> None:
    index = MemoryIndex()
    index.record(Content(Header(b"\x01" * 16, 0, 0), Text("x")), b"\x01" * 32)
    for body, kind in ((Reaction(b"\x01" * 16, "\U0001f44d"), "reaction"),
                       (ReadReceipt((b"\x01" * 16,)), "readreceipt")):
        p = quarantine_preview(_body(Content(HEADER, body), index))
        assert p.kind == kind and p.text == "" and not p.truncated


def test_T14_unknown_parts_and_bad_text_are_not_shown() -> None:
    m = mimi.decode_content(_body(Content(HEADER, Text("x"))))
    odd = dataclasses.replace(m, body=mimi.SinglePart(1, "", "application/x-odd", b"\x00"))
    assert quarantine_preview(mimi.encode_content(odd)).kind == "unsupported"
    for bad in (b"\xff\xfe", b"bell\x07", "\u202e".encode()):
        raw = dataclasses.replace(m, body=mimi.SinglePart(1, "", "text/plain", bad))
        with pytest.raises(DecodeError):
            quarantine_preview(mimi.encode_content(raw))


@SETTINGS
@given(st.binary(max_size=400))
def test_T16_T14_random_input_only_decode_error(data: bytes) -> None:
    good = _body(Content(HEADER, Text("x")))
    for candidate in (data, good[:20] + data, good + data):
        with contextlib.suppress(DecodeError):
            quarantine_preview(candidate)
