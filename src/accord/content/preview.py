"""Quarantine previews for message requests (THREATS.md T14).

First contact from an unknown sender stays in quarantine until the user
accepts it. Until then the client may show a preview, and nothing else: this
module unpads, reads the fixed header and the body's kind, and decodes the
text field of a ``Text`` body. It never decodes a reply target, an
attachment reference or any other body, so no locator is ever seen (nothing
to fetch) and no rich content is parsed. The preview is one line, without
control or bidi-override characters (``fields.no_controls``), cut to
``max_chars``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from accord.content.message import MAX_CONTENT_BYTES
from accord.content.model import BODY_TAGS, CONTENT_VERSION, Header, Text, TextField
from accord.content.padding import STEP, unpad
from accord.errors import DecodeError
from accord.mls.codec import codec_for

__all__ = ["Preview", "quarantine_preview"]

_KIND_NAMES = {tag: cls.__name__.lower() for cls, tag in BODY_TAGS.items()}
_HEADER = codec_for(Header)
_TEXT = codec_for(TextField)


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    message_id: bytes
    sent_at: int
    kind: str  # "text", "reaction", ...: the body kind, never its fields
    text: str  # "" unless kind == "text"
    truncated: bool


def quarantine_preview(plaintext: bytes, max_chars: int = 200) -> Preview:
    """The bounded plain-text preview of a padded content; ``DecodeError`` otherwise."""
    encoded = unpad(bytes(plaintext), limit=STEP)
    if not encoded or len(encoded) > MAX_CONTENT_BYTES or encoded[0] != CONTENT_VERSION:
        raise DecodeError("not a content of a known version")
    header, pos = _decode(_HEADER.dec, encoded, 1)
    if pos >= len(encoded):
        raise DecodeError("truncated: expected the body kind")
    tag = encoded[pos]
    if tag not in _KIND_NAMES:
        raise DecodeError(f"unknown body kind {tag}")
    text = ""
    if tag == BODY_TAGS[Text]:
        # Only the first field of Text; the rest (reply, attachments) is left unread.
        text, _ = _decode(_TEXT.dec, encoded, pos + 1)
    line = " ".join(text.split())
    cut = line[:max_chars]
    return Preview(header.message_id, header.sent_at, _KIND_NAMES[tag], cut, cut != line)


def _decode(dec: Any, buf: bytes, pos: int) -> tuple[Any, int]:
    try:
        value, end = dec(buf, pos)
    except DecodeError:
        raise
    except (IndexError, ValueError, TypeError) as exc:
        raise DecodeError(f"malformed content: {exc}") from None
    return value, end
