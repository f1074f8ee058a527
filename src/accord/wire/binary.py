"""A hidden-sender post as MLS bytes (issue 23): the PrivateMessage is the body.

The body of ``POST /v1/groups/{group_id}/messages`` may be the MLS message itself,
with the media type RFC 9420 registers (17.10, ``message/mls``), and the post's
other fields in headers: ``Accord-Epoch`` (decimal), ``Accord-Nonce`` and
``Accord-Signature`` (base64url). That spares the client and the provider the base64
and JSON of the ciphertext, the bulk of the post. The fields are the JSON post's
(:class:`~accord.wire.messages.ApplicationPost`) with its bounds, checked by the
same decoder; the signature input is the same (``signing.post_input``).
"""

from __future__ import annotations

from collections.abc import Mapping

from accord.errors import ValidationError
from accord.wire.codec import b64e, decode
from accord.wire.messages import ApplicationPost

MLS_MEDIA_TYPE = "message/mls"
EPOCH, NONCE, SIGNATURE = "accord-epoch", "accord-nonce", "accord-signature"
MAX_EPOCH_DIGITS = 19


def is_mls(content_type: str | None) -> bool:
    """Whether a Content-Type names the MLS media type (parameters ignored)."""
    return (content_type or "").split(";", 1)[0].strip().lower() == MLS_MEDIA_TYPE


def post_headers(post: ApplicationPost) -> dict[str, str]:
    """The headers that go with ``post.ciphertext`` as the body."""
    return {"content-type": MLS_MEDIA_TYPE, EPOCH: str(post.epoch),
            NONCE: b64e(post.nonce), SIGNATURE: b64e(post.signature)}


def post_from_binary(headers: Mapping[str, str], body: bytes) -> ApplicationPost:
    """The post a binary body and its headers carry; typed errors for anything amiss."""
    epoch = headers.get(EPOCH)
    if epoch is None or not (epoch.isascii() and epoch.isdigit()) or len(epoch) > MAX_EPOCH_DIGITS:
        raise ValidationError(f"{EPOCH}: a decimal epoch is required")
    fields: dict[str, object] = {"epoch": int(epoch), "ciphertext": body}
    for name, header in (("nonce", NONCE), ("signature", SIGNATURE)):
        value = headers.get(header)
        if value is None:
            raise ValidationError(f"{header}: required with a {MLS_MEDIA_TYPE} body")
        fields[name] = value
    return decode(ApplicationPost, fields, "post")
