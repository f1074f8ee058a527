"""Encoding, padding and franking of one message's content.

The sender builds a ``Content``, then ``seal`` gives the two things it sends:
the padded plaintext to protect with MLS, and the franking commitment that
goes outside the ciphertext (issue 11, THREATS.md T13). The recipient calls
``open_content`` on the plaintext MLS hands back; it gets the content and the
exact bytes the commitment covers (``Opened.encoded``), which is what a
report reveals.

Franking: ``commitment = HMAC-SHA256(franking_key, encoded)`` where
``encoded`` is the version octet and the canonical encoding of ``Content``
(unpadded). The franking key is a fresh 32-byte value inside the content, so
only recipients learn it. HMAC-SHA256 with a 32-byte key is a committing MAC:
finding a second (key, content) pair with the same commitment needs a
SHA-256 collision, so a reporter can neither change the text nor the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from accord.content import model
from accord.content.model import CONTENT_VERSION, Attachment, Content, Header
from accord.content.padding import STEP, pad, unpad
from accord.errors import CryptoError, DecodeError, ValidationError
from accord.mls.codec import decode, encode

__all__ = [
    "MAX_CONTENT_BYTES",
    "Opened",
    "Sealed",
    "check_report",
    "decode_content",
    "encode_content",
    "expires_at",
    "frank",
    "is_expired",
    "make_content",
    "new_franking_key",
    "new_id",
    "open_content",
    "seal",
    "verify_commitment",
]

RandomBytes = Callable[[int], bytes]

# The largest encoded content; padded, it is the 64 KiB bucket at most.
MAX_CONTENT_BYTES = STEP - 1


def new_id(random_bytes: RandomBytes) -> bytes:
    """A fresh 16-byte message id from the caller's randomness (``os.urandom``)."""
    return _take(random_bytes, 16)


def new_franking_key(random_bytes: RandomBytes) -> bytes:
    return _take(random_bytes, 32)


def _take(random_bytes: RandomBytes, n: int) -> bytes:
    value = random_bytes(n)
    if not isinstance(value, bytes) or len(value) != n:
        raise ValidationError(f"the random source must return {n} bytes")
    return value


def make_content(
    body: model.BodyKinds,
    *,
    random_bytes: RandomBytes,
    sent_at: int,
    expires_after: int = 0,
) -> Content:
    """A ``Content`` with a fresh id and franking key drawn from ``random_bytes``."""
    header = Header(new_id(random_bytes), sent_at, expires_after, new_franking_key(random_bytes))
    return Content(header, body)


def _rules(c: Content) -> str | None:
    """The first value rule ``c`` breaks that the type hints cannot say."""
    if c.header.expires_after > model.MAX_TIMER_SECONDS:
        return "expires_after exceeds the longest timer"
    body = c.body
    if isinstance(body, model.TimerSetting) and body.seconds > model.MAX_TIMER_SECONDS:
        return "timer exceeds the longest timer"
    attachments: tuple[Attachment, ...] = body.attachments if isinstance(body, model.Text) else ()
    for a in attachments:
        if a.size > model.MAX_ATTACHMENT_SIZE:
            return "attachment larger than the limit"
    return None


def encode_content(content: Content) -> bytes:
    """The canonical bytes of ``content``: the version octet, then the struct."""
    broken = _rules(content)
    if broken:
        raise ValidationError(broken, "PROTOCOL.md message content")
    data = bytes([CONTENT_VERSION]) + encode(Content, content)
    if len(data) > MAX_CONTENT_BYTES:
        raise ValidationError(f"content of {len(data)} bytes exceeds {MAX_CONTENT_BYTES}")
    return data


def decode_content(data: bytes) -> Content:
    """Strictly decode ``data``; every failure is a ``DecodeError``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("content must be bytes")
    data = bytes(data)
    if len(data) > MAX_CONTENT_BYTES:
        raise DecodeError(f"content of {len(data)} bytes exceeds {MAX_CONTENT_BYTES}")
    if not data:
        raise DecodeError("empty content")
    if data[0] != CONTENT_VERSION:
        raise DecodeError(f"unknown content version {data[0]}")
    content: Any = decode(Content, data[1:])
    broken = _rules(content)
    if broken:
        raise DecodeError(broken)
    assert isinstance(content, Content)
    return content


def frank(franking_key: bytes, encoded: bytes) -> bytes:
    """The franking commitment to ``encoded`` under ``franking_key``."""
    if len(franking_key) != 32:
        raise ValidationError("a franking key is 32 bytes", "issue 11 franking")
    return hmac.new(franking_key, encoded, hashlib.sha256).digest()


def verify_commitment(franking_key: bytes, encoded: bytes, commitment: bytes) -> None:
    """Raise ``CryptoError`` unless ``commitment`` commits to ``encoded`` under the key."""
    if len(franking_key) != 32 or not hmac.compare_digest(frank(franking_key, encoded), commitment):
        raise CryptoError("franking commitment does not match the content")


def check_report(encoded: bytes, commitment: bytes) -> Content:
    """A provider's check of a report: the revealed bytes decode, and the key
    inside them opens the commitment. Returns the reported content."""
    content = decode_content(encoded)
    verify_commitment(content.franking_key, encoded, commitment)
    return content


@dataclasses.dataclass(frozen=True, slots=True)
class Sealed:
    plaintext: bytes  # padded: hand this to MLS as the application data
    commitment: bytes  # franking commitment: sent outside the ciphertext

    def __repr__(self) -> str:
        return f"Sealed({len(self.plaintext)} bytes)"


@dataclasses.dataclass(frozen=True, slots=True)
class Opened:
    content: Content
    encoded: bytes  # the exact bytes the franking commitment covers

    def __repr__(self) -> str:
        return f"Opened({self.content.message_id.hex()})"


def seal(content: Content) -> Sealed:
    encoded = encode_content(content)
    return Sealed(pad(encoded, limit=STEP), frank(content.franking_key, encoded))


def open_content(plaintext: bytes, commitment: bytes | None = None) -> Opened:
    """Unpad and decode what MLS decrypted; check the commitment when given."""
    encoded = unpad(bytes(plaintext), limit=STEP)
    content = decode_content(encoded)
    if commitment is not None:
        verify_commitment(content.franking_key, encoded, commitment)
    return Opened(content, encoded)


def expires_at(content: Content) -> int | None:
    """When the message disappears (ms since the epoch, by the sender's clock)."""
    if content.header.expires_after == 0:
        return None
    return content.header.sent_at + 1000 * content.header.expires_after


def is_expired(content: Content, now: int) -> bool:
    """``now`` in ms since the epoch; passed in, never read from a clock."""
    deadline = expires_at(content)
    return deadline is not None and now >= deadline
