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
    "public_message_from",
    "sign_content",
    "unprotect_private",
    "unprotect_public",
    "verify_content",
    "with_confirmation_tag",
]
