"""PublicMessage: RFC 9420 section 6.2.

A PublicMessage is an AuthenticatedContent in the clear plus, for member
senders, a ``membership_tag`` = ``MAC(membership_key, AuthenticatedContentTBM)``
that proves the sender knew the epoch's membership key. Non-members
(external, new_member_proposal, new_member_commit) carry no tag and are
authenticated by their signature alone.

Unprotecting checks, in this order, everything a receiver can check without
the ratchet tree: group and epoch (RFC 9420 12.4.2), that application data is
not sent in the clear (RFC 9420 6), the membership tag in constant time, then
the signature with the key the caller supplies (or finds with a lookup), and
the placement of the confirmation tag. Validating the confirmation tag's
value belongs to the group layer, which derives the next epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import ValidationError
from accord.mls.codec import encode_varint
from accord.mls.framing_auth import (
    SignatureKey,
    framed_content_tbs,
    sign_content,
    verify_content,
)
from accord.mls.structs.enums import ContentType, SenderType, WireFormat
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.messages import AuthenticatedContent, FramedContent, PublicMessage

if TYPE_CHECKING:
    from accord.mls.suites import CipherSuite

__all__ = [
    "membership_tag",
    "protect_public",
    "public_message_from",
    "unprotect_public",
    "verify_public_signature",
]


def membership_tag(
    suite: CipherSuite,
    membership_key: bytes,
    auth: AuthenticatedContent,
    group_context: GroupContext | None,
) -> bytes:
    """``MAC(membership_key, AuthenticatedContentTBM)`` (RFC 9420 6.2)."""
    return suite.mac(membership_key, _tbm(auth, group_context))


def _tbm(auth: AuthenticatedContent, group_context: GroupContext | None) -> bytes:
    # AuthenticatedContentTBM = FramedContentTBS || FramedContentAuthData, so
    # it is assembled from the TBS bytes and the auth fields directly rather
    # than by re-encoding a nested struct that holds the same TBS again.
    tbs = framed_content_tbs(auth.wire_format, auth.content, group_context)
    return tbs + _auth_data(auth)


def _auth_data(auth: AuthenticatedContent) -> bytes:
    """The encoded FramedContentAuthData: signature<V>, then confirmation_tag<V> for commits."""
    out = bytearray()
    _put_opaque(auth.signature, out)
    if auth.confirmation_tag is not None:
        _put_opaque(auth.confirmation_tag, out)
    return bytes(out)


def _put_opaque(data: bytes, out: bytearray) -> None:
    encode_varint(len(data), out)
    out += data


def public_message_from(
    suite: CipherSuite,
    auth: AuthenticatedContent,
    group_context: GroupContext | None,
    membership_key: bytes | None,
) -> PublicMessage:
    """Encode an already signed AuthenticatedContent as a PublicMessage (RFC 9420 6.2).

    ``membership_key`` is required for member senders and ignored otherwise.
    """
    if auth.wire_format != WireFormat.PUBLIC_MESSAGE:
        raise ValidationError("the content was signed for another wire format", "RFC 9420 6.1")
    _refuse_public_application(auth.content)
    tag = None
    if auth.content.sender.sender_type == SenderType.MEMBER:
        if membership_key is None:
            raise ValidationError(
                "a member's PublicMessage needs the membership key", "RFC 9420 6.2"
            )
        tag = membership_tag(suite, membership_key, auth, group_context)
    return PublicMessage(auth.content, auth.signature, auth.confirmation_tag, tag)


def protect_public(
    suite: CipherSuite,
    content: FramedContent,
    signature_priv: bytes,
    group_context: GroupContext | None,
    membership_key: bytes | None,
    confirmation_tag: bytes | None = None,
) -> PublicMessage:
    """Sign ``content`` and encode it as a PublicMessage (RFC 9420 6.1, 6.2).

    For a commit the confirmation tag depends on the signature; the usual way
    is :func:`~accord.mls.framing_auth.sign_content`, then
    ``with_confirmation_tag``, then :func:`public_message_from`. Passing
    ``confirmation_tag`` here suits callers that already know it.
    """
    _refuse_public_application(content)
    auth = sign_content(
        suite, WireFormat.PUBLIC_MESSAGE, content, signature_priv, group_context, confirmation_tag
    )
    return public_message_from(suite, auth, group_context, membership_key)


def unprotect_public(
    suite: CipherSuite,
    message: PublicMessage,
    signature_key: SignatureKey,
    group_context: GroupContext,
    membership_key: bytes | None,
) -> AuthenticatedContent:
    """Verify a PublicMessage and return its AuthenticatedContent (RFC 9420 6.2).

    ``group_context`` is the receiver's current one: the message must name its
    group and epoch. Raises ``ValidationError`` (rule named), or
    ``CryptoError`` for a bad membership tag or signature.
    """
    content = message.content
    _check_group_and_epoch(content, group_context)
    _refuse_public_application(content)
    if content.sender.sender_type == SenderType.MEMBER:
        if membership_key is None:
            raise ValidationError(
                "a member's PublicMessage needs the membership key", "RFC 9420 6.2"
            )
        if message.membership_tag is None:
            raise ValidationError(
                "a member's PublicMessage carries a membership_tag", "RFC 9420 6.2"
            )
        # verify_mac compares in constant time and raises CryptoError.
        suite.verify_mac(membership_key, _tbm(_authenticated(message), group_context),
                         message.membership_tag)
    return verify_public_signature(suite, message, signature_key, group_context)


def verify_public_signature(
    suite: CipherSuite,
    message: PublicMessage,
    signature_key: SignatureKey,
    group_context: GroupContext,
) -> AuthenticatedContent:
    """Everything of :func:`unprotect_public` but the membership tag: what a party
    without the epoch's secrets (a delivery service, RFC 9420 16.6) can check of a
    PublicMessage, with the group's public GroupContext. A member's tag is only
    required to be present; its value needs the membership key."""
    content = message.content
    _check_group_and_epoch(content, group_context)
    _refuse_public_application(content)
    if content.sender.sender_type == SenderType.MEMBER:
        if message.membership_tag is None:
            raise ValidationError(
                "a member's PublicMessage carries a membership_tag", "RFC 9420 6.2"
            )
    elif message.membership_tag is not None:
        raise ValidationError("only member senders carry a membership_tag", "RFC 9420 6.2")
    auth = _authenticated(message)
    verify_content(suite, auth, signature_key, group_context)
    return auth


def _authenticated(message: PublicMessage) -> AuthenticatedContent:
    return AuthenticatedContent(
        WireFormat.PUBLIC_MESSAGE, message.content, message.signature, message.confirmation_tag
    )


def _check_group_and_epoch(content: FramedContent, group_context: GroupContext) -> None:
    if content.group_id != group_context.group_id:
        raise ValidationError("the message is for another group", "RFC 9420 6")
    # RFC 9420 12.4.2: the content's epoch must be the current epoch.
    if content.epoch != group_context.epoch:
        raise ValidationError(
            f"the message is for epoch {content.epoch}, the group is at {group_context.epoch}",
            "RFC 9420 12.4.2",
        )


def _refuse_public_application(content: FramedContent) -> None:
    # RFC 9420 6: "Applications MUST use PrivateMessage to encrypt application
    # messages"; a PublicMessage carrying application data is refused both ways.
    if content.content_type == ContentType.APPLICATION:
        raise ValidationError("application data must be sent as a PrivateMessage", "RFC 9420 6")
