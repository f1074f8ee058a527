"""Checks one MIMI content example: the CBOR bytes and the EDN text beside them.

The examples of draft-ietf-mimi-content give each message as ``NAME.cbor``
and its annotated source ``NAME.edn``, whose comment ``# message ID = h'...'``
(possibly continued on the next ``#`` lines) states the expected message ID.
An example passes when it decodes, re-encodes to the same bytes, and its
message ID, computed from the sender and room URIs of its extensions
(keys 1 and 2, as in every example), is the one the comment states. Reading
the files is the caller's job (``accord vectors --kind mimi-content``).
"""

from __future__ import annotations

import re

from accord.content import mimi
from accord.errors import ValidationError

__all__ = ["check_example", "expected_message_id"]

_COMMENT = re.compile(r"#\s*message ID\s*=\s*h'([^']*)'", re.IGNORECASE)


def expected_message_id(edn: str) -> bytes:
    """The message ID the EDN comment states."""
    match = _COMMENT.search(edn)
    if match is None:
        raise ValidationError("the EDN has no '# message ID = h'...'' comment")
    digits = re.sub(r"[#\s]", "", match.group(1))
    if not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", digits):
        raise ValidationError("the message ID comment is not hexadecimal")
    return bytes.fromhex(digits)


def check_example(data: bytes, edn: str) -> bytes:
    """Raise unless ``data`` round-trips and has the stated message ID; returns the ID."""
    content = mimi.decode_content(data)
    if mimi.encode_content(content) != data:
        raise ValidationError("re-encoding does not give the same bytes", "draft-ietf-mimi-content-08 6.1")
    sender, room = content.sender_uri, content.room_uri
    if sender is None or room is None:
        raise ValidationError("the example has no sender or room URI extension (keys 1, 2)")
    computed = mimi.message_id(data, sender, room)
    expected = expected_message_id(edn)
    if computed != expected:
        raise ValidationError(f"message ID {computed.hex()} != expected {expected.hex()}",
                              "draft-ietf-mimi-content-08 3.3")
    return computed
