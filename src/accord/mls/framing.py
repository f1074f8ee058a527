"""Message framing: RFC 9420 section 6, sans-I/O.

One import for the three parts, each in its own module:

- :mod:`accord.mls.framing_auth`: content authentication (6.1): the
  FramedContentTBS signature and the commit's confirmation tag placement.
- :mod:`accord.mls.framing_public`: PublicMessage (6.2): membership tag.
- :mod:`accord.mls.framing_private`: PrivateMessage (6.3): content and
  sender data encryption with the secret tree's keys and a reuse guard.
- :mod:`accord.mls.padding`: the padding policies of PrivateMessageContent.

Every function takes the cipher suite and the epoch's values explicitly and
returns new values; nothing here keeps state. The secret tree is immutable,
so the private-message functions return the tree that remains after the key
they consumed. Failures raise ``DecodeError``, ``ValidationError`` (with the
RFC rule) or ``CryptoError``, all ``AccordError``.

A commit is authenticated in two steps because its confirmation tag covers
its signature (8.2)::

    auth = sign_content(suite, WireFormat.PRIVATE_MESSAGE, content, priv, ctx)
    ...  # transcript hash, next epoch's key schedule, confirmation tag
    auth = with_confirmation_tag(auth, tag)
    message, tree = private_message_from(suite, tree, sender_data_secret, auth)
"""

from __future__ import annotations

from accord.errors import ValidationError
from accord.mls.codec import decode
from accord.mls.framing_auth import (
    SIGNATURE_LABEL,
    SignatureKey,
    framed_content_tbs,
    sign_content,
    verify_content,
    with_confirmation_tag,
)
from accord.mls.framing_private import (
    Members,
    decode_private_content,
    encode_private_content,
    private_message_from,
    protect_private,
    unprotect_private,
)
from accord.mls.framing_public import (
    membership_tag,
    protect_public,
    public_message_from,
    unprotect_public,
)
from accord.mls.padding import ACCORD_BUCKETS, BucketPadding, PaddingPolicy, no_padding
from accord.mls.structs.enums import ProtocolVersion
from accord.mls.structs.messages import MLSMessage, PrivateMessage, PublicMessage

__all__ = [
    "ACCORD_BUCKETS",
    "SIGNATURE_LABEL",
    "BucketPadding",
    "Members",
    "PaddingPolicy",
    "SignatureKey",
    "decode_private_content",
    "encode_private_content",
    "framed_content_tbs",
    "membership_tag",
    "no_padding",
    "private_message_from",
    "protect_private",
    "protect_public",
    "read_framed_message",
    "public_message_from",
    "sign_content",
    "unprotect_private",
    "unprotect_public",
    "verify_content",
    "with_confirmation_tag",
]


def read_framed_message(data: bytes) -> PublicMessage | PrivateMessage:
    """The PublicMessage or PrivateMessage inside an encoded MLSMessage.

    Raises ``DecodeError`` for bytes that are no MLSMessage and
    ``ValidationError`` for another protocol version (RFC 9420 6: version is
    mls10) or for a Welcome, GroupInfo or KeyPackage, which are not framed.
    """
    message: MLSMessage = decode(MLSMessage, data)
    if message.version != ProtocolVersion.MLS10:
        raise ValidationError(f"protocol version {message.version} is not mls10", "RFC 9420 6")
    inner = message.message
    if not isinstance(inner, PublicMessage | PrivateMessage):
        raise ValidationError(
            f"wire format {message.wire_format} is not a framed message", "RFC 9420 6"
        )
    return inner
