"""Accord's message content kinds, declared once with their bounds.

On the wire every content is MIMI content (``accord.content.sealing``,
``mimi_map``). The declarations here, in the TLS presentation language of
``accord.mls.codec``, are the bounds of every field (lengths, character
rules, file names that are never paths): ``message.check_content`` checks a
content against them by encoding it, for what is sent and what is received.

The sender is not in the content: MLS authenticates it (RFC 9420 6.3). The
conversation state (members, admins) is MLS state; a ``Notice`` only tells
people what changed.
"""

from __future__ import annotations

from typing import Annotated

from accord.content.fields import (
    BoundedBytes,
    BoundedText,
    BoundedTuple,
    Flag,
    MessageId,
    no_controls,
)
from accord.mls.codec import U32, U64, Fixed, OneOf, Uint, Variant, wire

__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_TEXT_BYTES",
    "Attachment",
    "Body",
    "Content",
    "Delete",
    "Edit",
    "Header",
    "Notice",
    "NoticeKind",
    "Reaction",
    "ReadReceipt",
    "Text",
    "TimerSetting",
]

MAX_TEXT_BYTES = 16 * 1024
MAX_EMOJI_BYTES = 32
MAX_ATTACHMENTS = 16
MAX_RECEIPT_IDS = 256
MAX_LOCATOR_BYTES = 512
MAX_MEDIA_TYPE_BYTES = 127
MAX_FILE_NAME_BYTES = 255
MAX_NOTICE_BYTES = 320
MAX_TIMER_SECONDS = 366 * 24 * 3600
MAX_ATTACHMENT_SIZE = 1 << 32  # 4 GiB of plaintext
MAX_TOPIC_BYTES = 4096  # draft-ietf-mimi-content-08 9.1


def _plain_text(s: str) -> bool:
    return no_controls(s, allow_newlines=True)


def _one_line(s: str) -> bool:
    return no_controls(s)


def _emoji(s: str) -> bool:
    return no_controls(s) and not any(ch.isspace() for ch in s)


def _media_type(s: str) -> bool:
    # RFC 6838 4.2: type "/" subtype from a restricted ASCII set; parameters
    # are not needed to pick a viewer and are refused.
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&-^_.+")
    parts = s.split("/")
    return len(parts) == 2 and all(p and set(p) <= allowed for p in parts)


def _file_name(s: str) -> bool:
    # A name a receiver may use to save the file: never a path.
    return (
        no_controls(s)
        and s not in (".", "..")
        and not any(c in s for c in "/\\\x00")
        and s == s.strip()
    )


TextField = BoundedText(MAX_TEXT_BYTES, check=_plain_text)


@wire
class Attachment:
    """An encrypted blob: where it is, the key to open it, and what it is."""

    locator: BoundedText(MAX_LOCATOR_BYTES, 1, _one_line)  # type: ignore[valid-type]
    key: Annotated[bytes, Fixed(32)]  # AES-256-GCM key, fresh per blob
    ciphertext_sha256: Annotated[bytes, Fixed(32)]
    size: U64  # plaintext size in bytes
    media_type: BoundedText(MAX_MEDIA_TYPE_BYTES, 3, _media_type)  # type: ignore[valid-type]
    file_name: BoundedText(MAX_FILE_NAME_BYTES, 0, _file_name)  # type: ignore[valid-type]

    def __repr__(self) -> str:  # never print the key
        return f"Attachment(locator={self.locator!r}, size={self.size}, media_type={self.media_type!r})"


@wire
class Text:
    text: TextField  # type: ignore[valid-type]
    reply_to: MessageId | None = None
    attachments: BoundedTuple(Attachment, MAX_ATTACHMENTS) = ()  # type: ignore[valid-type]
    markdown: Flag = False  # text/markdown;variant=GFM-MIMI, else text/plain (MIMI 7.1)


@wire
class Reaction:
    target: MessageId
    emoji: BoundedText(MAX_EMOJI_BYTES, 1, _emoji)  # type: ignore[valid-type]
    remove: Flag = False


@wire
class Edit:
    target: MessageId
    text: TextField  # type: ignore[valid-type]


@wire
class Delete:
    target: MessageId


@wire
class ReadReceipt:
    """A status report: the messages read, and those only delivered (a MIMI message
    status report, ``mimi_status``); empty, it is a cover post."""

    message_ids: BoundedTuple(MessageId, MAX_RECEIPT_IDS, unique=True)  # type: ignore[valid-type]
    delivered: BoundedTuple(MessageId, MAX_RECEIPT_IDS, unique=True) = ()  # type: ignore[valid-type]


@wire
class TimerSetting:
    """The conversation's disappearing-message timer; 0 turns it off."""

    seconds: U32


class NoticeKind:
    MEMBER_ADDED = 1
    MEMBER_REMOVED = 2
    MEMBER_LEFT = 3
    RENAMED = 4
    DEVICE_ADDED = 5
    DEVICE_REMOVED = 6
    ADMINS_CHANGED = 7
    PROFILE_NAME = 8  # issue 19: the sender's display name for its own account
    ALL = (1, 2, 3, 4, 5, 6, 7, 8)


@wire
class Notice:
    """A human-readable notice of a change the MLS state already carries."""

    kind: Annotated[int, Uint(1), OneOf(*NoticeKind.ALL)]
    subject: BoundedText(MAX_NOTICE_BYTES, 0, _one_line)  # type: ignore[valid-type]


BodyKinds = Text | Reaction | Edit | Delete | ReadReceipt | TimerSetting | Notice
Body = Annotated[
    BodyKinds,
    Variant(
        Annotated[int, Uint(1)],
        {1: Text, 2: Reaction, 3: Edit, 4: Delete, 5: ReadReceipt, 6: TimerSetting, 7: Notice},
    ),
]
BODY_TAGS: dict[type, int] = {
    Text: 1,
    Reaction: 2,
    Edit: 3,
    Delete: 4,
    ReadReceipt: 5,
    TimerSetting: 6,
    Notice: 7,
}


@wire
class Header:
    message_id: MessageId
    sent_at: U64  # the sender's clock, ms since the Unix epoch: a claim only
    expires_after: U32  # seconds after sent_at; 0 = the message does not expire
    # MIMI topicId (draft-ietf-mimi-content-08 3.4, 5): an opaque grouping; empty: none
    topic: BoundedBytes(MAX_TOPIC_BYTES) = b""  # type: ignore[valid-type]

    def __repr__(self) -> str:
        return f"Header(message_id={self.message_id.hex()}, sent_at={self.sent_at})"


@wire
class Content:
    header: Header
    body: Body

    @property
    def message_id(self) -> bytes:
        return self.header.message_id
