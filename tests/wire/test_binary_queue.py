"""The binary queue page (accord.wire.binary, issue 23): round trips, and every
malformed, truncated, trailing or out-of-bound envelope is a typed error."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import DecodeError, ValidationError
from accord.wire.binary import (
    QUEUE_MEDIA_TYPE,
    accepts,
    decode_queue_page,
    encode_queue_page,
)
from accord.wire.messages import (
    EPOCH_MAX,
    MAX_GROUP_ID,
    MAX_MESSAGE,
    MAX_PAGE_ITEMS,
    MAX_SENDER,
    QueueItem,
    QueuePage,
)

MAX_INT = 2**63 - 1


def _item(seq: int = 1, **changed: object) -> QueueItem:
    fields: dict[str, object] = dict(seq=seq, msg_id="m" + str(seq), kind="application",
                                     body=b"\x01mls", created_at=1_800_000_000_000)
    fields.update(changed)
    return QueueItem(**fields)  # type: ignore[arg-type]


FULL = _item(7, group_id=b"g" * MAX_GROUP_ID, epoch=EPOCH_MAX, sender="a@x.test/" + "d" * 22,
             frank=b"t" * 32, chain_seq=3, chain=b"c" * 32)

items = st.builds(
    QueueItem,
    seq=st.integers(0, MAX_INT), msg_id=st.text(max_size=16), kind=st.text(max_size=8),
    body=st.binary(max_size=64), created_at=st.integers(0, MAX_INT),
    group_id=st.none() | st.binary(min_size=1, max_size=MAX_GROUP_ID),
    epoch=st.none() | st.integers(0, EPOCH_MAX), sender=st.none() | st.text(max_size=40),
    frank=st.none() | st.binary(min_size=1, max_size=255),
    chain_seq=st.none() | st.integers(0, EPOCH_MAX),
    chain=st.none() | st.binary(min_size=32, max_size=32))


@settings(max_examples=200, deadline=None)
@given(st.lists(items, max_size=5), st.integers(0, MAX_INT))
def test_round_trip(page_items: list[QueueItem], next_after: int) -> None:
    page = QueuePage(items=page_items, next_after=next_after)
    assert decode_queue_page(encode_queue_page(page)) == page


def test_round_trip_at_the_bounds() -> None:
    page = QueuePage(items=[FULL, _item(8, body=b"\0" * MAX_MESSAGE), _item(9, body=b"")],
                     next_after=9)
    assert decode_queue_page(encode_queue_page(page)) == page
    many = QueuePage(items=[_item(i) for i in range(MAX_PAGE_ITEMS)], next_after=MAX_PAGE_ITEMS)
    assert decode_queue_page(encode_queue_page(many)) == many


def test_every_truncation_and_any_trailing_byte_is_refused() -> None:
    data = encode_queue_page(QueuePage(items=[FULL, _item(8)], next_after=8))
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            decode_queue_page(data[:cut])
    with pytest.raises(DecodeError, match="trailing"):
        decode_queue_page(data + b"\0")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_page_or_a_typed_error(data: bytes) -> None:
    try:
        page = decode_queue_page(data)
    except (DecodeError, ValidationError):
        return
    assert encode_queue_page(page) == data  # one encoding per page


def _page_head(count: int, version: int = 1) -> bytes:
    return struct.pack(">BQH", version, 0, count)


def _raw_item(flags: int, *, msg_id: bytes = b"m", body_len: bytes | None = None,
              body: bytes = b"b", tail: bytes = b"") -> bytes:
    head = bytes([flags]) + struct.pack(">QQ", 1, 2)
    return (head + bytes([len(msg_id)]) + msg_id + b"\x0bapplication"
            + (body_len or struct.pack(">I", len(body))) + body + tail)


def test_a_well_formed_raw_page_decodes() -> None:  # the fixtures below differ in one thing
    page = decode_queue_page(_page_head(1) + _raw_item(0))
    assert page.items == [QueueItem(seq=1, msg_id="m", kind="application", body=b"b",
                                    created_at=2)]


@pytest.mark.parametrize(("data", "error"), [
    (_page_head(0, version=2), DecodeError),  # unknown version
    (_page_head(MAX_PAGE_ITEMS + 1) + _raw_item(0) * (MAX_PAGE_ITEMS + 1), DecodeError),
    (_page_head(1) + _raw_item(0x40), DecodeError),  # an unknown flag
    (_page_head(1) + _raw_item(0, msg_id=b"\xff\xfe"), DecodeError),  # not UTF-8
    (_page_head(2) + _raw_item(0), DecodeError),  # fewer items than counted
    (_page_head(1) + _raw_item(0, body_len=struct.pack(">I", 2**32 - 1)), DecodeError),
    (_page_head(1) + _raw_item(0, msg_id=b"m" * 65), ValidationError),  # over msg_id's bound
    (_page_head(1) + _raw_item(0, body=b"\0" * (MAX_MESSAGE + 1)), ValidationError),
    (_page_head(1) + _raw_item(0x01, tail=b"\0"), ValidationError),  # empty group id
    (_page_head(1) + _raw_item(0x01, tail=bytes([MAX_GROUP_ID + 1]) + b"g" * (MAX_GROUP_ID + 1)),
     ValidationError),
    (_page_head(1) + _raw_item(0x02, tail=struct.pack(">Q", EPOCH_MAX + 1)), ValidationError),
    (_page_head(1) + _raw_item(0x04, tail=struct.pack(">H", MAX_SENDER + 1)
                               + b"s" * (MAX_SENDER + 1)), ValidationError),
    (_page_head(1) + _raw_item(0x08, tail=b"\x00"), ValidationError),  # an empty frank
    (_page_head(1) + _raw_item(0x20, tail=b"\x21" + b"c" * 33), ValidationError),  # long chain
    (struct.pack(">BQH", 1, 2**64 - 1, 0), ValidationError),  # next_after over int64
])
def test_hostile_envelopes_are_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_queue_page(data)


def test_the_encoder_refuses_an_oversized_page() -> None:
    with pytest.raises(ValidationError):
        encode_queue_page(QueuePage(items=[_item(1)] * (MAX_PAGE_ITEMS + 1), next_after=1))


@pytest.mark.parametrize(("accept", "binary"), [
    (QUEUE_MEDIA_TYPE, True), ("application/json, " + QUEUE_MEDIA_TYPE + ";q=0.9", True),
    ("Application/Vnd.Accord.Queue", True), (None, False), ("application/json", False),
    ("*/*", False), (QUEUE_MEDIA_TYPE + "; q=0", False), (QUEUE_MEDIA_TYPE + "x", False),
])
def test_accept(accept: str | None, binary: bool) -> None:
    assert accepts(accept, QUEUE_MEDIA_TYPE) is binary
