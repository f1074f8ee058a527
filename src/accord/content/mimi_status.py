"""MIMI message status reports (draft-mahy-mimi-message-status-01): delivery and read.

The draft moved message status out of draft-ietf-mimi-content (its section 3
cites it); a report is the content of a ``SinglePart`` of media type
``application/mimi-message-status`` (section 7.1), in deterministic CBOR:

    MessageStatusReport = [ * PerMessageStatus ]
    PerMessageStatus = [ messageId: bstr .size 32, status: uint .size 1 ]

One report names several messages of the same room (section 1), each with its
status: 0 unread, 1 delivered, 2 read, 3 expired, 4 deleted, 5 hidden, 6 error,
7..255 unknown (kept: the reader ignores what it does not know). Decoding is
strict and every failure is a ``DecodeError``: the CDDL, a message ID with an
unknown hash algorithm (as draft-ietf-mimi-content 9.1 says of every message
ID), more than ``MAX_REPORT_ENTRIES`` entries, a message ID named twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from accord.content import cbor
from accord.errors import DecodeError, ValidationError

__all__ = [
    "MAX_REPORT_ENTRIES",
    "STATUS_TYPE",
    "MessageStatus",
    "decode_status",
    "encode_status",
]

DRAFT = "draft-mahy-mimi-message-status-01"
STATUS_TYPE = "application/mimi-message-status"  # section 7.1
MAX_REPORT_ENTRIES = 256  # Accord's bound: a report is one batch of at most 256 messages
MESSAGE_ID_BYTES = 32
HASH_SHA256 = 1


class MessageStatus(IntEnum):
    """Section 3, ``baseStatus``."""

    UNREAD = 0
    DELIVERED = 1
    READ = 2
    EXPIRED = 3
    DELETED = 4
    HIDDEN = 5
    ERROR = 6


Entry = tuple[bytes, int]  # (MIMI message ID, status)


def _entry(value: Any) -> Entry:
    if not isinstance(value, tuple) or len(value) != 2:
        raise DecodeError(f"message status: an entry is not [messageId, status] ({DRAFT} 4)")
    mid, status = value
    if not isinstance(mid, bytes) or len(mid) != MESSAGE_ID_BYTES:
        raise DecodeError(f"message status: a messageId is not {MESSAGE_ID_BYTES} octets ({DRAFT} 4)")
    if mid[0] != HASH_SHA256:
        raise DecodeError(f"message status: a messageId uses unknown hash algorithm {mid[0]} "
                          "(draft-ietf-mimi-content-08 9.1)")
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 255:
        raise DecodeError(f"message status: a status is not 0..255 ({DRAFT} 4)")
    return mid, status


def decode_status(data: bytes) -> tuple[Entry, ...]:
    """Strictly decode one ``application/mimi-message-status`` report."""
    value = cbor.decode(data)
    if not isinstance(value, tuple):
        raise DecodeError(f"message status: the report is not an array ({DRAFT} 4)")
    if len(value) > MAX_REPORT_ENTRIES:
        raise DecodeError(f"message status: more than {MAX_REPORT_ENTRIES} entries in one report")
    entries = tuple(map(_entry, value))
    if len({mid for mid, _ in entries}) != len(entries):
        raise DecodeError("message status: a report names a message twice")
    return entries


def encode_status(entries: Sequence[Entry]) -> bytes:
    """The deterministic encoding; what the decoder would refuse is never produced."""
    data = cbor.encode(tuple((mid, int(status)) for mid, status in entries))
    try:
        decode_status(data)
    except DecodeError as exc:
        raise ValidationError(str(exc), DRAFT) from None
    return data
