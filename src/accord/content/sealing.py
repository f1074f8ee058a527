"""The body of every application message: MIMI content (draft-ietf-mimi-content-08).

The sender's ``seal`` maps an Accord ``Content`` to MIMI content
(``mimi_map.to_mimi``), encodes it (``mimi.encode_content``, deterministic
CBOR) and returns what it sends: those bytes, which MLS protects as the
application data, their franking tag (it goes outside the ciphertext, in the
``frank_aad`` item of the message's Safe AAD), and the message's MIMI ID
(section 3.3), which later replies, reactions, edits and receipts refer to.

The receiver's ``open_content`` decodes the bytes, refuses a content that
names another sender or room than the ones MLS authenticated (``check_origin``,
section 9.1), checks the franking tag the message carries, when it carries one,
against the content's salt and bytes, computes the MIMI ID from the
authenticated sender and room, and maps the content back to Accord's kinds
(``mimi_map.from_mimi``) with the conversation's index of earlier messages.

Nothing is padded here: the bytes are what any MIMI client expects. The
size a provider sees is hidden by the padding of the MLS
PrivateMessageContent (RFC 9420 6.3.1, ``accord.mls.padding.ACCORD_BUCKETS``),
which every MLS client strips.

Franking (THREATS.md T13, draft-ietf-mimi-protocol-06 5.4.1.1): ``franking_tag =
HMAC-SHA256(salt, encoded)``; the salt is fresh per message and travels only inside
the ciphertext, so a report reveals the encoded bytes and the provider recomputes
the tag from the salt inside them (``check_report``).
"""

from __future__ import annotations

import dataclasses

from accord.content import mimi, mimi_map
from accord.content.message import check_franking_tag, franking_tag
from accord.content.mimi import MimiContent
from accord.content.mimi_map import MessageIndex, NoEffect, Unsupported
from accord.content.model import Content
from accord.errors import DecodeError, ValidationError

__all__ = [
    "MAX_BODY_BYTES",
    "Opened",
    "Sealed",
    "check_report",
    "decode_body",
    "open_content",
    "seal",
]

# The largest encoded MIMI content Accord sends or reads; MLS pads above it.
MAX_BODY_BYTES = 64 * 1024 - 1


@dataclasses.dataclass(frozen=True, slots=True)
class Sealed:
    plaintext: bytes  # the MIMI content: hand this to MLS as the application data
    franking_tag: bytes  # HMAC-SHA256(salt, plaintext): sent outside the ciphertext
    mimi_id: bytes  # section 3.3, for the sender's own index

    def __repr__(self) -> str:
        return f"Sealed({len(self.plaintext)} bytes)"


@dataclasses.dataclass(frozen=True, slots=True)
class Opened:
    content: Content | Unsupported | NoEffect
    encoded: bytes  # the exact bytes the franking tag covers
    mimi: MimiContent
    mimi_id: bytes

    @property
    def message_id(self) -> bytes:
        """Accord's id of the message: the content's salt."""
        return self.mimi.salt

    def __repr__(self) -> str:
        return f"Opened({self.mimi_id.hex()})"


def decode_body(data: bytes) -> MimiContent:
    """Strictly decode an application message's body; every failure is a ``DecodeError``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("a message body must be bytes")
    if len(data) > MAX_BODY_BYTES:
        raise DecodeError(f"a message body of {len(data)} bytes exceeds {MAX_BODY_BYTES}")
    return mimi.decode_content(bytes(data))


def seal(content: Content, index: MessageIndex, sender_uri: str, room_uri: str) -> Sealed:
    """The MIMI body of ``content`` sent by ``sender_uri`` (the user URI MLS
    authenticates) into ``room_uri``; references resolve through ``index``."""
    encoded = mimi.encode_content(mimi_map.to_mimi(content, index, sender_uri, room_uri))
    if len(encoded) > MAX_BODY_BYTES:
        raise ValidationError(f"content of {len(encoded)} bytes exceeds {MAX_BODY_BYTES}")
    return Sealed(encoded, franking_tag(content.message_id, encoded),
                  mimi.message_id(encoded, sender_uri, room_uri))


def open_content(plaintext: bytes, tag: bytes | None, index: MessageIndex, *,
                 sender_uri: str, room_uri: str, received_at: int) -> Opened:
    """What MLS decrypted, sent by the authenticated ``sender_uri`` in ``room_uri``,
    with the franking ``tag`` of its Safe AAD (None: the sender franked nothing).

    Refused (``ValidationError``, ``CryptoError``, ``DecodeError``): a content naming
    another sender or room (9.1), a franking tag that is not the content's, an expiry more than
    a year away (9.1). Kept but not shown as an Accord kind: ``Unsupported`` (unknown
    parts, types) and ``NoEffect`` (about a message never seen here)."""
    m = decode_body(plaintext)
    encoded = bytes(plaintext)
    mimi.check_origin(m, sender_uri, room_uri)
    if tag is not None:
        check_franking_tag(m.salt, encoded, tag)
    mimi.check_expiry(m.expires, received_at)
    mimi_id = mimi.message_id(encoded, sender_uri, room_uri)
    return Opened(mimi_map.from_mimi(m, index, received_at), encoded, m, mimi_id)


def check_report(encoded: bytes, tag: bytes) -> MimiContent:
    """A provider's check of a report: the revealed bytes decode, and ``tag`` is their
    franking tag under the salt inside them (draft-ietf-mimi-protocol-06 5.4.1.1)."""
    m = decode_body(encoded)
    check_franking_tag(m.salt, bytes(encoded), tag)
    return m
