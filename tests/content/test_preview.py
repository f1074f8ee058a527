"""Quarantine previews of first contact (THREATS.md T14)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.content import (
    Attachment,
    Content,
    Header,
    Reaction,
    Text,
    encode_content,
    pad,
    quarantine_preview,
    seal,
)
from accord.errors import DecodeError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
HEADER = Header(b"\x07" * 16, 42, 0, b"\x09" * 32)


def test_T14_preview_is_plain_bounded_text() -> None:
    sealed = seal(Content(HEADER, Text("hello\n\nfrom   a stranger " + "x" * 500)))
    p = quarantine_preview(sealed.plaintext, max_chars=40)
    assert p.kind == "text" and p.message_id == HEADER.message_id and p.sent_at == 42
    assert p.text == ("hello from a stranger " + "x" * 500)[:40] and p.truncated


def test_T14_attachments_are_never_parsed() -> None:
    att = Attachment("https://evil.example/track", b"k" * 32, b"h" * 32, 9, "image/png", "a.png")
    encoded = encode_content(Content(HEADER, Text("hi", None, (att,))))
    # Garbage where the reply target and attachments are: the preview never
    # reads that far, so it still shows the text and learns no locator.
    cut = encoded.index(b"\x02hi") + 3
    garbage = encoded[:cut] + b"\xff" * 40
    p = quarantine_preview(pad(garbage))
    assert p.text == "hi" and "evil" not in repr(p)


def test_T14_other_kinds_show_only_their_kind() -> None:
    sealed = seal(Content(HEADER, Reaction(b"\x01" * 16, "\U0001f44d")))
    p = quarantine_preview(sealed.plaintext)
    assert p.kind == "reaction" and p.text == "" and not p.truncated


@SETTINGS
@given(st.binary(max_size=400))
def test_T16_T14_random_input_only_decode_error(data: bytes) -> None:
    for candidate in (data, pad(data), pad(b"\x01" + data)):
        with contextlib.suppress(DecodeError):
            quarantine_preview(candidate)


def test_T14_unknown_kind_is_refused() -> None:
    encoded = encode_content(Content(HEADER, Text("x")))
    kind_at = 1 + 16 + 8 + 4 + 32
    with pytest.raises(DecodeError):
        quarantine_preview(pad(encoded[:kind_at] + b"\x50" + encoded[kind_at + 1 :]))
