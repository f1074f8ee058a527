"""Franking tags, Accord's Safe AAD and abuse-report checks (T13, T07), sans-I/O.

The authenticated data of every Accord application message is a ``SafeAAD``
(draft-ietf-mls-extensions 4.9; the items in ``accord.wire.safe_aad``):

- ``frank_aad`` (0x0020): ``franking_tag = HMAC-SHA256(salt, content)``, the
  sender's commitment to the exact MIMI content bytes under the content's salt
  (draft-ietf-mimi-protocol-06 5.4.1.1, ``accord.content.franking_tag``);
- ``accord_epoch_tag`` (0xAC02): the sender's epoch tag, for fork detection (T07).

:func:`message_aad` builds it and :func:`split_aad` is its one parser: the hub
(franking), the receiver (content) and the fork monitor (epoch tag) all read it
there. Either item may be missing (a MIMI client that is not Accord's sends no
epoch tag; a client that franks nothing sends no ``frank_aad``): the hub still
takes the post but has nothing to frank, the receiver checks no franking tag,
and the fork monitor alerts on a missing epoch tag as before. Items of other
components are ignored; a ``SafeAAD`` that does not decode, is unsorted or
names a component twice is a ``DecodeError``, as is an item of ours of the
wrong length.

The hub franks the sender's franking tag as draft-ietf-mimi-protocol-06
5.4.1.2 says (:mod:`accord.privacy.server_frank`). A recipient reports by
revealing the content bytes with the hub's Frank and time; the hub recomputes
the sender's franking tag from the revealed bytes and their salt
(:func:`reported_tag`) and its server frank from that: another text, another
salt, another sender, room or time fails.
"""

from __future__ import annotations

import dataclasses

from accord.content import decode_body
from accord.content import franking_tag as content_franking_tag
from accord.content.mimi import MimiContent
from accord.errors import DecodeError
from accord.mls.structs.app_data import SafeAAD
from accord.wire.safe_aad import EPOCH_TAG, EPOCH_TAG_LEN, FRANK_AAD, FrankAAD


@dataclasses.dataclass(frozen=True, slots=True)
class MessageAAD:
    """What Accord reads in an application message's Safe AAD."""

    epoch_tag: bytes | None  # accord_epoch_tag (T07); None: the sender sent none
    franking_tag: bytes | None  # frank_aad's tag (T13); None: the message is not franked


def message_aad(epoch_tag: bytes, franking_tag: bytes) -> bytes:
    """Accord's authenticated data of an application message: the ``SafeAAD`` of its
    ``frank_aad`` (``franking_tag``, 32 octets) and ``accord_epoch_tag`` (8 octets)."""
    if len(epoch_tag) != EPOCH_TAG_LEN:
        raise ValueError("an epoch tag is 8 bytes")
    items = {FRANK_AAD: FrankAAD(franking_tag).to_bytes(), EPOCH_TAG: epoch_tag}
    return SafeAAD.of(items).to_bytes()


def sender_franking_tag(content: bytes) -> bytes:
    """The franking tag a sender puts into ``frank_aad`` for the MIMI content
    ``content``: ``HMAC-SHA256(salt, content)`` (draft-ietf-mimi-protocol-06 5.4.1.1)."""
    return content_franking_tag(decode_body(content).salt, bytes(content))


def split_aad(authenticated_data: bytes) -> MessageAAD:
    """The epoch tag and franking tag of a message's Safe AAD, each None when absent;
    ``DecodeError`` when it is no well-formed ``SafeAAD`` or an item of ours is malformed.

    The one parser of Accord's authenticated data: the hub (franking), the receiver
    (content) and the fork monitor (epoch tag, T07) all read it here.
    """
    safe = SafeAAD.from_bytes(bytes(authenticated_data))
    epoch_tag = safe.get(EPOCH_TAG)
    if epoch_tag is not None and len(epoch_tag) != EPOCH_TAG_LEN:
        raise DecodeError("an accord_epoch_tag item is 8 octets (docs/PROTOCOL.md)")
    frank = safe.get(FRANK_AAD)
    tag = None if frank is None else FrankAAD.from_bytes(frank).franking_tag
    return MessageAAD(epoch_tag, tag)


def franking_tag_in(authenticated_data: bytes) -> bytes | None:
    """The sender's franking tag (``frank_aad``) in a message's Safe AAD, None if none."""
    return split_aad(authenticated_data).franking_tag


def franking_tag_of_post(body: bytes) -> bytes | None:
    """The sender's franking tag carried by a posted MLS PrivateMessage, None if it
    carries none; ``DecodeError`` if the post or its Safe AAD does not decode."""
    from accord.privacy.sizes import private_message

    return franking_tag_in(bytes(private_message(body).authenticated_data))


def reported_tag(content: bytes) -> tuple[MimiContent, bytes]:
    """A revealed content and the franking tag its sender put into ``frank_aad`` for it,
    recomputed from the bytes and their salt (MIMI 5.9); ``DecodeError`` for bytes that
    do not decode. Any change of text or salt changes the tag, so the hub's server
    frank no longer matches (:func:`accord.privacy.server_frank.check_report`)."""
    body = decode_body(content)
    return body, content_franking_tag(body.salt, bytes(content))
