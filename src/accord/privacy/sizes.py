"""What a provider sees of an application message's size (T11).

A hidden-sender post carries one MLS PrivateMessage (RFC 9420 6.3). Its
``ciphertext`` is the AEAD encryption (16-byte tag) of a
PrivateMessageContent padded by :data:`accord.mls.padding.ACCORD_BUCKETS`
(512 B ... 16 KiB, then multiples of 16 KiB), the only padding of the
message body (MIMI content, ``accord.content.sealing``). The rest of the PrivateMessage (group id, epoch, authenticated data of fixed
layout, encrypted sender data) has the same length for every message of a
group. So the provider learns only the bucket.
"""

from __future__ import annotations

from accord.errors import DecodeError
from accord.mls.codec import decode
from accord.mls.padding import ACCORD_BUCKETS
from accord.mls.structs.messages import MLSMessage, PrivateMessage

AEAD_TAG = 16
AAD_LEN = 47  # Accord's Safe AAD: frank_aad (32) and accord_epoch_tag (8), privacy.franking


def is_mls_bucket(n: int) -> bool:
    """``n`` is a padded PrivateMessageContent size of ACCORD_BUCKETS."""
    if n <= 0:
        return False
    return ACCORD_BUCKETS(n) == 0


def private_message(body: bytes) -> PrivateMessage:
    msg = decode(MLSMessage, body).message
    if not isinstance(msg, PrivateMessage):
        raise DecodeError("not an MLS PrivateMessage")
    return msg


def visible_shape(body: bytes) -> tuple[int, int, int]:
    """``(padded content bucket, authenticated data length, header length)`` of a post.

    Raises ``DecodeError`` when the ciphertext is not bucket-sized: a provider
    would learn more than the bucket.
    """
    pm = private_message(body)
    bucket = len(pm.ciphertext) - AEAD_TAG
    if not is_mls_bucket(bucket):
        raise DecodeError(f"ciphertext of {len(pm.ciphertext)} bytes is not a bucket + tag")
    return bucket, len(pm.authenticated_data), len(body) - len(pm.ciphertext)
