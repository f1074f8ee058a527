"""MIMI message status reports (draft-mahy-mimi-message-status-01): the draft's example,
round trips, every malformed report a typed error, and how a report reads as Accord's
receipt (read and delivered of messages seen here; the rest dropped)."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.content import cbor, mimi, model
from accord.content.mimi_map import MemoryIndex, Unsupported, from_mimi, kind_of, to_mimi
from accord.content.mimi_status import (
    MAX_REPORT_ENTRIES,
    STATUS_TYPE,
    MessageStatus,
    decode_status,
    encode_status,
)
from accord.errors import DecodeError, ValidationError

# Figure 2 of the draft: the IDs of draft-ietf-mimi-content's example messages.
ORIGINAL = bytes.fromhex("017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f4")
REPLY = bytes.fromhex("015354973c2b65ca937bf1e035ae53a5ab80e947afa43d46920d4202e5cc0b27")
MENTION = bytes.fromhex("018d825adf9f6be00dcafc5704c4102f5022e74219d0b603e4ba7622654042af")
EXPIRING = bytes.fromhex("01e59db8173939facc2c8a4a0f0ae8d0c7a11a81239626630c9464a8d6717a03")
FIGURE_2 = (bytes.fromhex("84") + b"".join(
    bytes.fromhex("825820") + mid + bytes([status])
    for mid, status in ((ORIGINAL, 2), (REPLY, 2), (MENTION, 0), (EXPIRING, 3))))

_mids = st.binary(min_size=31, max_size=31).map(lambda b: b"\x01" + b)
_reports = st.lists(st.tuples(_mids, st.integers(0, 255)), max_size=20,
                    unique_by=lambda e: e[0])


def test_the_drafts_example_decodes_and_re_encodes_byte_for_byte() -> None:
    entries = decode_status(FIGURE_2)
    assert entries == ((ORIGINAL, MessageStatus.READ), (REPLY, MessageStatus.READ),
                       (MENTION, MessageStatus.UNREAD), (EXPIRING, MessageStatus.EXPIRED))
    assert encode_status(entries) == FIGURE_2


@given(_reports)
def test_every_report_round_trips(entries: list[tuple[bytes, int]]) -> None:
    data = encode_status(entries)
    assert decode_status(data) == tuple(entries)
    assert encode_status(decode_status(data)) == data


_ID = b"\x01" + bytes(31)


@pytest.mark.parametrize(("value", "why"), [
    ({1: 2}, "not an array"),
    (((_ID,),), "not [messageId, status]"),
    (((_ID, 1, 2),), "not [messageId, status]"),
    (((_ID[:31], 1),), "not 32 octets"),
    (((b"\x02" + bytes(31), 1),), "unknown hash algorithm 2"),
    (((_ID, 256),), "not 0..255"),
    (((_ID, -1),), "not 0..255"),
    (((_ID, True),), "not 0..255"),
    (((_ID, "read"),), "not 0..255"),
    (((_ID, 1), (_ID, 2)), "names a message twice"),
    (tuple((b"\x01" + n.to_bytes(31, "big"), 1) for n in range(MAX_REPORT_ENTRIES + 1)),
     f"more than {MAX_REPORT_ENTRIES}"),
])
def test_malformed_reports_are_decode_errors(value: object, why: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(why)):
        decode_status(cbor.encode(value))


@pytest.mark.parametrize("entries", [[(_ID, 1), (_ID, 2)], [(_ID[:31], 1)], [(_ID, 256)],
                                     [(b"\x02" + bytes(31), 1)]])
def test_what_the_decoder_refuses_is_never_encoded(entries: list[tuple[bytes, int]]) -> None:
    with pytest.raises(ValidationError):
        encode_status(entries)


def test_an_unknown_status_is_kept_and_the_most_entries_decode() -> None:
    assert decode_status(cbor.encode(((_ID, 200),))) == ((_ID, 200),)
    many = tuple((b"\x01" + n.to_bytes(31, "big"), 1) for n in range(MAX_REPORT_ENTRIES))
    assert len(decode_status(encode_status(many))) == MAX_REPORT_ENTRIES
    assert decode_status(cbor.encode(())) == ()  # an empty report: a cover post


def _index(*accord_ids: bytes) -> tuple[MemoryIndex, list[bytes]]:
    index, mimi_ids = MemoryIndex(), []
    for n, aid in enumerate(accord_ids):
        mid = b"\x01" + bytes([n]) * 31
        index.record(model.Content(model.Header(aid, 0, 0), model.Delete(bytes(16))), mid)
        mimi_ids.append(mid)
    return index, mimi_ids


def _report(content: bytes) -> mimi.MimiContent:
    part = mimi.SinglePart(mimi.Disposition.UNSPECIFIED, "", STATUS_TYPE, content)
    return mimi.MimiContent(os.urandom(16), None, b"", None, None, {}, part)


def test_another_clients_report_reads_as_read_and_delivered_of_messages_seen_here() -> None:
    a, b, c, d = (bytes([n]) * 16 for n in range(1, 5))
    index, (ma, mb, mc, md) = _index(a, b, c, d)
    unknown = b"\x01" + b"\xee" * 31
    m = _report(encode_status([(ma, 2), (mb, 1), (mc, 0), (md, 9), (unknown, 2)]))
    assert kind_of(m) == "readreceipt"
    result = from_mimi(m, index, received_at=0)
    assert isinstance(result, model.Content)
    assert result.body == model.ReadReceipt((a,), (b,))  # unread, unknown: dropped


def test_accords_receipt_is_a_status_report_and_round_trips() -> None:
    a, b = bytes([1]) * 16, bytes([2]) * 16
    index, (ma, mb) = _index(a, b)
    content = model.Content(model.Header(os.urandom(16), 5, 0),
                            model.ReadReceipt((a,), (b,)))
    m = to_mimi(content, index, "mimi://a.example/u/bob", "mimi://a.example/r/x")
    assert isinstance(m.body, mimi.SinglePart) and m.body.content_type == STATUS_TYPE
    assert decode_status(m.body.content) == ((ma, MessageStatus.READ), (mb, MessageStatus.DELIVERED))
    assert from_mimi(mimi.decode_content(mimi.encode_content(m)), index, received_at=0) == content


def test_a_malformed_report_is_unsupported_never_a_crash() -> None:
    for bad in (b"\xff", cbor.encode(((b"\x01" * 5, 1),)), cbor.encode(7)):
        result = from_mimi(_report(bad), MemoryIndex(), received_at=0)
        assert isinstance(result, Unsupported), bad
