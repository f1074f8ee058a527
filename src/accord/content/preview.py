"""Quarantine previews for message requests (THREATS.md T14).

First contact from an unknown sender stays in quarantine until the user
accepts it. Until then the client may show a preview, and nothing else: this
module decodes the MIMI content (the strict, bounded codec of
``accord.content.mimi``), reads its salt (Accord's message id), the sender's
time and the kind it would be (``mimi_map.kind_of``, from its shape alone),
and for a text the first text part. It never resolves a reference, never
reads an external part (no URL is ever seen or fetched), never maps the rest
of the content. The preview is one line, without control or bidi-override
characters (``fields.no_controls``), cut to ``max_chars``.
"""

from __future__ import annotations

import dataclasses

from accord.content.fields import no_controls
from accord.content.mimi import MultiPart, NestedPart, SinglePart
from accord.content.mimi_map import ACCORD_EXTENSION, is_text, kind_of
from accord.content.model import MAX_TEXT_BYTES
from accord.content.sealing import decode_body
from accord.errors import DecodeError

__all__ = ["Preview", "quarantine_preview"]


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    message_id: bytes
    sent_at: int
    kind: str  # "text", "reaction", ...: the body kind, never its fields
    text: str  # "" unless kind == "text"
    truncated: bool


def _first_text(part: NestedPart) -> SinglePart | None:
    if isinstance(part, SinglePart) and is_text(part):
        return part
    if isinstance(part, MultiPart):  # the text of a processAll, the first of a chooseOne
        return next((p for p in part.parts if isinstance(p, SinglePart) and is_text(p)), None)
    return None


def quarantine_preview(plaintext: bytes, max_chars: int = 200) -> Preview:
    """The bounded plain-text preview of a message body; ``DecodeError`` otherwise."""
    m = decode_body(plaintext)
    ext = m.extensions.get(ACCORD_EXTENSION)
    sent_at = ext.get(1, 0) if isinstance(ext, dict) else 0
    if not isinstance(sent_at, int) or isinstance(sent_at, bool) or sent_at < 0:
        raise DecodeError("a malformed sender time")
    kind = kind_of(m)
    text = ""
    part = _first_text(m.body) if kind == "text" else None
    if part is not None:
        if len(part.content) > MAX_TEXT_BYTES:
            raise DecodeError("a text over the limit")
        try:
            text = part.content.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("a text that is not UTF-8") from None
        if not no_controls(text, allow_newlines=True):
            raise DecodeError("a text with control characters")
    line = " ".join(text.split())
    cut = line[:max_chars]
    return Preview(m.salt, sent_at, kind, cut, cut != line)
