"""Nested multiparts (draft-ietf-mimi-content-08 4.4, 6.3): chooseOne, singleUnit and
processAll inside each other up to 4 levels round-trip; Accord shows the best
alternative at each level and says what it cannot show; deeper nesting is refused."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.content import cbor, mimi, model
from accord.content.mimi_map import MemoryIndex, NoEffect, Unsupported, from_mimi, kind_of, to_mimi
from accord.errors import DecodeError

CHOOSE, UNIT, ALL = (mimi.PartSemantics.CHOOSE_ONE, mimi.PartSemantics.SINGLE_UNIT,
                     mimi.PartSemantics.PROCESS_ALL)


def _single(content_type: str, data: bytes) -> mimi.SinglePart:
    return mimi.SinglePart(mimi.Disposition.RENDER, "", content_type, data)


def _multi(semantics: int, *parts: mimi.NestedPart) -> mimi.MultiPart:
    return mimi.MultiPart(mimi.Disposition.RENDER, "", semantics, parts)


PLAIN = _single("text/plain;charset=utf-8", b"plain words")
MARKDOWN = _single("text/markdown;variant=GFM-MIMI", b"**rich** words")
RICH = _single("application/x-rich", b"\x00\x01")
HOLOGRAM = _single("application/x-hologram", b"\x02")
ATTACHMENT = model.Attachment("accord-blob:x", bytes(32), bytes(32), 5, "image/png", "a.png")


def _external() -> mimi.NestedPart:
    """The external part Accord sends for ``ATTACHMENT``."""
    sent = to_mimi(model.Content(model.Header(bytes(16), 0, 0),
                                 model.Text("", attachments=(ATTACHMENT,))),
                   MemoryIndex(), "mimi://a.example/u/alice", "mimi://a.example/r/x")
    assert isinstance(sent.body, mimi.MultiPart)
    return sent.body.parts[1]


def _read(body: mimi.NestedPart) -> model.Content | Unsupported | NoEffect:
    m = mimi.MimiContent(os.urandom(16), None, b"", None, None, {}, body)
    m = mimi.decode_content(mimi.encode_content(m))  # what crosses the wire
    result = from_mimi(m, MemoryIndex(), received_at=0)
    # the shape alone tells the kind the reader gives
    assert kind_of(m) == ("text" if isinstance(result, model.Content) else "unsupported")
    return result


def test_the_best_alternative_at_each_level_and_unsupported_parts_said() -> None:
    body = _multi(ALL,
                  _multi(CHOOSE, RICH, MARKDOWN, PLAIN),  # the first Accord shows whole
                  _external(),
                  _multi(UNIT, PLAIN, HOLOGRAM))  # one part not understood: none of it
    result = _read(body)
    assert isinstance(result, model.Content)
    assert result.body == model.Text(
        "**rich** words\n[unsupported: text/plain;charset=utf-8, application/x-hologram]",
        None, (ATTACHMENT,), True)


def test_an_alternative_shown_whole_wins_over_an_earlier_one_shown_in_part() -> None:
    partly = _multi(ALL, MARKDOWN, HOLOGRAM)
    result = _read(_multi(CHOOSE, partly, PLAIN))
    assert isinstance(result, model.Content) and result.body == model.Text("plain words")
    # none shown whole: the first shown at all, its unknown part said
    result = _read(_multi(CHOOSE, RICH, partly, _multi(UNIT, PLAIN, RICH)))
    assert isinstance(result, model.Content)
    assert result.body == model.Text("**rich** words\n[unsupported: application/x-hologram]",
                                     markdown=True)


def test_four_levels_deep_is_read_and_nothing_shown_is_unsupported() -> None:
    deep = _multi(ALL, _multi(CHOOSE, _multi(UNIT, PLAIN, MARKDOWN), RICH), HOLOGRAM)
    result = _read(deep)
    assert isinstance(result, model.Content)
    assert result.body.text == "plain words\n\n**rich** words\n[unsupported: application/x-hologram]"
    nothing = _read(_multi(ALL, _multi(CHOOSE, RICH, HOLOGRAM), mimi.NullPart()))
    assert isinstance(nothing, Unsupported) and "application/x-rich" in nothing.summary


def _levels(levels: int) -> tuple[Any, ...]:
    part: tuple[Any, ...] = (1, "", 1, "text/plain", b"x")
    for n in range(levels - 1):
        part = (1, "", 3, n % 3, (part, (1, "", 0)))
    return part


def _doc(body: tuple[Any, ...]) -> bytes:
    return cbor.encode((bytes(16), None, b"", None, None, {}, body))


def test_hostile_deep_nesting_is_a_typed_error() -> None:
    mimi.decode_content(_doc(_levels(mimi.MAX_NESTING)))
    with pytest.raises(DecodeError, match="nested more than 4 levels"):
        mimi.decode_content(_doc(_levels(mimi.MAX_NESTING + 1)))
    with pytest.raises(DecodeError, match="CBOR nested deeper"):  # far past any bound
        mimi.decode_content(b"\x87" + b"\x50" + bytes(16) + b"\xf6\x40\xf6\xf6\xa0" + b"\x81" * 100_000)


_leaf = st.sampled_from([PLAIN, MARKDOWN, RICH, HOLOGRAM, mimi.NullPart(),
                         _single("text/plain;charset=utf-8", b"\xff"), _external()])


def _tree(levels: int) -> st.SearchStrategy[mimi.NestedPart]:
    """A multipart of ``levels`` levels at most, its parts leaves or multiparts."""
    inner = _leaf if levels == 2 else _leaf | _tree(levels - 1)
    return st.builds(lambda s, ps: _multi(s, *ps), st.sampled_from([CHOOSE, UNIT, ALL]),
                     st.lists(inner, min_size=2, max_size=3))


@settings(deadline=None, max_examples=200)
@given(_tree(mimi.MAX_NESTING))
def test_nested_parts_round_trip_and_always_read(body: mimi.NestedPart) -> None:
    m = mimi.MimiContent(os.urandom(16), None, b"", None, None, {}, body)
    data = mimi.encode_content(m)
    assert mimi.decode_content(data) == m and mimi.encode_content(mimi.decode_content(data)) == data
    result = _read(body)
    assert isinstance(result, model.Content | Unsupported)
