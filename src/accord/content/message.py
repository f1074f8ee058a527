"""Accord's message content: making it, checking its rules, franking it.

The sender builds a ``Content`` (``make_content``: a fresh id, the MIMI
content's salt, from the caller's randomness); ``accord.content.sealing`` turns it into
the MIMI content that is the body of the application message, and
``check_content`` is the one check of Accord's rules a content must pass,
sent or received: every field within the bounds ``model`` declares (texts,
names, media types, file names that are never paths) and the value rules
those bounds cannot say (timers, attachment sizes).

Franking (draft-ietf-mimi-protocol-06 5.4.1.1): ``franking_tag =
HMAC-SHA256(salt, encoded)`` where ``encoded`` is the exact body sent (the
MIMI content) and ``salt`` its fresh 16-octet salt, which travels only
inside the ciphertext. HMAC-SHA256 commits to its input: finding a second
(salt, content) pair with the same tag needs a SHA-256 collision, so a
reporter can change neither the text nor the salt.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from accord.content import model
from accord.content.model import Attachment, Content, Header
from accord.errors import CryptoError, ValidationError
from accord.mls.codec import encode

__all__ = [
    "check_content",
    "expires_at",
    "check_franking_tag",
    "is_expired",
    "make_content",
    "new_id",
    "franking_tag",
]

RandomBytes = Callable[[int], bytes]


def new_id(random_bytes: RandomBytes) -> bytes:
    """A fresh 16-byte message id from the caller's randomness (``os.urandom``)."""
    return _take(random_bytes, 16)


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
    topic: bytes = b"",
) -> Content:
    """A ``Content`` with a fresh id (the salt that keys its franking tag) drawn from
    ``random_bytes``."""
    header = Header(new_id(random_bytes), sent_at, expires_after, topic)
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


def check_content(content: Content) -> None:
    """Raise ``ValidationError`` unless ``content`` keeps Accord's rules: the bounds of
    every field (checked by encoding it with its declaration) and the value rules."""
    broken = _rules(content)
    if broken:
        raise ValidationError(broken, "PROTOCOL.md message content")
    encode(Content, content)


FRANKING_RULE = "draft-ietf-mimi-protocol-06 5.4.1.1"


def franking_tag(salt: bytes, encoded: bytes) -> bytes:
    """``HMAC-SHA256(salt, encoded)``: the franking tag of the MIMI content ``encoded``
    whose salt is ``salt`` (16 octets)."""
    if len(salt) != 16:
        raise ValidationError("a MIMI content's salt is 16 octets", FRANKING_RULE)
    return hmac.new(salt, encoded, hashlib.sha256).digest()


def check_franking_tag(salt: bytes, encoded: bytes, tag: bytes) -> None:
    """Raise ``CryptoError`` unless ``tag`` is the franking tag of ``encoded`` under ``salt``."""
    if len(salt) != 16 or not hmac.compare_digest(franking_tag(salt, encoded), tag):
        raise CryptoError("the franking tag does not match the content")


def expires_at(content: Content) -> int | None:
    """When the message disappears (ms since the epoch, by the sender's clock)."""
    if content.header.expires_after == 0:
        return None
    return content.header.sent_at + 1000 * content.header.expires_after


def is_expired(content: Content, now: int) -> bool:
    """``now`` in ms since the epoch; passed in, never read from a clock."""
    deadline = expires_at(content)
    return deadline is not None and now >= deadline
