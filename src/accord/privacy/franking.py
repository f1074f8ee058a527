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

When the hub accepts a franked post it computes

    tag = HMAC-SHA256(hub_key, "accord/v1/franking-tag" || lp(franking_tag)
                      || lp(group_id) || lp(created_at as 8 octets))

(``lp`` = 4-octet big-endian length, then the bytes) and hands the tag to
every recipient with the item. The hub never learns who sent the post.

A recipient reports by revealing the content bytes, the hub's tag, the group
and the hub's time. The hub recomputes the sender's franking tag from the
revealed bytes and their salt, and its own tag from that: another text,
another salt, another tag, another group or another time fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

from accord.content import decode_body
from accord.content import franking_tag as content_franking_tag
from accord.content.mimi import MimiContent
from accord.errors import CryptoError, DecodeError
from accord.mls.structs.app_data import SafeAAD
from accord.wire.safe_aad import EPOCH_TAG, EPOCH_TAG_LEN, FRANK_AAD, FrankAAD

TAG_LABEL = b"accord/v1/franking-tag"
TAG_LEN = 32


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def franking_tag(hub_key: bytes, commitment: bytes, group_id: bytes, created_at: int) -> bytes:
    if len(hub_key) < 32:
        raise CryptoError("the hub's franking key is too short")
    data = TAG_LABEL + _lp(commitment) + _lp(group_id) + _lp(created_at.to_bytes(8, "big"))
    return hmac.new(hub_key, data, hashlib.sha256).digest()


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


def verify_report(hub_key: bytes, group_id: bytes, created_at: int, content: bytes,
                  tag: bytes) -> MimiContent:
    """Check a report; the reported content, or ``CryptoError``/``DecodeError``.

    The sender's franking tag is recomputed from the revealed bytes and the salt
    inside them (draft-ietf-mimi-protocol-06 5.4.1.1), so a report needs no tag of
    the sender's own: any change of text or salt changes it and the hub's tag no
    longer matches.
    """
    if len(tag) != TAG_LEN:
        raise CryptoError("a franking tag is 32 bytes")
    decoded = decode_body(content)
    sender_tag = sender_franking_tag(content)
    expected = franking_tag(hub_key, sender_tag, group_id, created_at)
    if not hmac.compare_digest(expected, tag):
        raise CryptoError("the franking tag does not match this message, group and time")
    return decoded
