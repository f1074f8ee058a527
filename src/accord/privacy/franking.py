"""Franking tags and abuse-report checks (T13), sans-I/O.

The sender commits to a message's content with a fresh franking key that
travels inside the ciphertext (``accord.content.frank``); the commitment
travels in the clear, in the MLS authenticated data (``0x01 || epoch tag
(8) || commitment (32)``). When the hub accepts the post it computes

    tag = HMAC-SHA256(hub_key, "accord/v1/franking-tag" || lp(commitment)
                      || lp(group_id) || lp(created_at as 8 octets))

(``lp`` = 4-octet big-endian length, then the bytes) and hands the tag to
every recipient with the item. The hub never learns who sent the post.

A recipient reports by revealing the content bytes (the MIMI content, whose
``"accord"`` extension holds the franking key), the tag, the group and the
hub's time. The hub recomputes the
commitment from the revealed bytes and the tag from the commitment: another
text, another key, another tag, another group or another time fails.
"""

from __future__ import annotations

import hashlib
import hmac

from accord.content import decode_body, frank
from accord.content.mimi import MimiContent
from accord.content.mimi_map import franking_key
from accord.errors import CryptoError, DecodeError

TAG_LABEL = b"accord/v1/franking-tag"
TAG_LEN = 32
AAD_VERSION = 1
AAD_LEN = 41


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def franking_tag(hub_key: bytes, commitment: bytes, group_id: bytes, created_at: int) -> bytes:
    if len(hub_key) < 32:
        raise CryptoError("the hub's franking key is too short")
    data = TAG_LABEL + _lp(commitment) + _lp(group_id) + _lp(created_at.to_bytes(8, "big"))
    return hmac.new(hub_key, data, hashlib.sha256).digest()


def message_aad(epoch_tag: bytes, commitment: bytes) -> bytes:
    """Accord's authenticated data of an application message:
    ``0x01 || epoch tag (8) || franking commitment (32)``."""
    aad = bytes([AAD_VERSION]) + epoch_tag + commitment
    if len(aad) != AAD_LEN:
        raise ValueError("an epoch tag is 8 bytes and a commitment 32")
    return aad


def split_aad(authenticated_data: bytes) -> tuple[bytes, bytes]:
    """``(epoch tag, franking commitment)`` of Accord's layout; ``DecodeError`` otherwise.

    The one parser of the layout: the hub (franking), the receiver (content)
    and the fork monitor (epoch tag, T07) all read it here.
    """
    if len(authenticated_data) != AAD_LEN or authenticated_data[0] != AAD_VERSION:
        raise DecodeError("not Accord's authenticated data layout")
    return authenticated_data[1:9], authenticated_data[9:]


def commitment_in(authenticated_data: bytes) -> bytes:
    """The franking commitment in Accord's authenticated-data layout."""
    return split_aad(authenticated_data)[1]


def commitment_of_post(body: bytes) -> bytes:
    """The commitment carried by a posted MLS PrivateMessage (``DecodeError`` if none)."""
    from accord.privacy.sizes import private_message

    return commitment_in(bytes(private_message(body).authenticated_data))


def verify_report(hub_key: bytes, group_id: bytes, created_at: int, content: bytes,
                  tag: bytes) -> MimiContent:
    """Check a report; the reported content, or ``CryptoError``/``DecodeError``.

    The commitment is recomputed from the revealed bytes (the franking key is
    inside them), so a report needs no commitment of its own: any change of
    text or key changes the commitment and the tag no longer matches.
    """
    if len(tag) != TAG_LEN:
        raise CryptoError("a franking tag is 32 bytes")
    decoded = decode_body(content)
    commitment = frank(franking_key(decoded), content)
    expected = franking_tag(hub_key, commitment, group_id, created_at)
    if not hmac.compare_digest(expected, tag):
        raise CryptoError("the franking tag does not match this message, group and time")
    return decoded
