"""Content authentication: RFC 9420 section 6.1.

A FramedContent is signed over ``FramedContentTBS`` with
``SignWithLabel(., "FramedContentTBS", .)``. The TBS carries the wire format
the content will travel in, so a signature made for a PublicMessage does not
verify inside a PrivateMessage and the other way round, and for ``member`` and
``new_member_commit`` senders it carries the GroupContext, which binds the
signature to one group and one epoch.

A commit additionally carries a ``confirmation_tag``. It is
``MAC(confirmation_key, confirmed_transcript_hash)`` of the *new* epoch, and
the new confirmed transcript hash covers the signature (RFC 9420 8.2), so a
commit is authenticated in two steps: :func:`sign_content` first, then the
group layer derives the new epoch and calls :func:`with_confirmation_tag`.
Validating the tag is the group layer's job too (it holds the new epoch's
confirmation key); this module only places it and checks that it is present
exactly when the content is a commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from accord.errors import ValidationError
from accord.mls.codec import encode
from accord.mls.structs.enums import ContentType, ProtocolVersion, SenderType
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.messages import AuthenticatedContent, FramedContent, FramedContentTBS

if TYPE_CHECKING:
    from accord.mls.suites import CipherSuite

__all__ = [
    "SIGNATURE_LABEL",
    "SignatureKey",
    "framed_content_tbs",
    "resolve_signature_key",
    "sign_content",
    "verify_content",
    "with_confirmation_tag",
]

SIGNATURE_LABEL = b"FramedContentTBS"

# The verification key of a message's sender: the key itself, or a function
# of the (decoded, not yet authenticated) content that finds it, e.g. in the
# ratchet tree by leaf index (RFC 9420 6.1 lists where each sender type's key
# lives). A lookup that finds nothing must raise an AccordError.
SignatureKey = bytes | Callable[[FramedContent], bytes]

# RFC 9420 6.1: these sender types sign over the GroupContext as well.
_CONTEXT_SENDERS = frozenset((SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT))


def framed_content_tbs(
    wire_format: int, content: FramedContent, group_context: GroupContext | None
) -> bytes:
    """The encoded ``FramedContentTBS`` (RFC 9420 6.1).

    ``group_context`` is required for member and new_member_commit senders
    and must be ``None`` for the others; the context must be the one of the
    epoch the content names.
    """
    needs_context = content.sender.sender_type in _CONTEXT_SENDERS
    if needs_context:
        if group_context is None:
            raise ValidationError("this sender type signs over the GroupContext", "RFC 9420 6.1")
        # RFC 9420 6.1: the context "for the current epoch"; signing under
        # another group's or epoch's context would give a signature nobody
        # can verify, so refuse it here rather than produce it.
        if group_context.epoch != content.epoch or group_context.group_id != content.group_id:
            raise ValidationError(
                "the GroupContext is not the one of the content's group and epoch", "RFC 9420 6.1"
            )
    else:
        group_context = None
    tbs = FramedContentTBS(ProtocolVersion.MLS10, wire_format, content, group_context)
    return encode(FramedContentTBS, tbs)


def sign_content(
    suite: CipherSuite,
    wire_format: int,
    content: FramedContent,
    signature_priv: bytes,
    group_context: GroupContext | None,
    confirmation_tag: bytes | None = None,
) -> AuthenticatedContent:
    """Sign ``content`` for ``wire_format`` and return the AuthenticatedContent.

    A commit may be signed without its ``confirmation_tag`` (which depends on
    the signature); attach it with :func:`with_confirmation_tag` before the
    content is protected or encoded.
    """
    _check_tag_placement(content, confirmation_tag, allow_missing=True)
    tbs = framed_content_tbs(wire_format, content, group_context)
    signature = suite.sign_with_label(signature_priv, SIGNATURE_LABEL, tbs)
    return AuthenticatedContent(wire_format, content, signature, confirmation_tag)


def with_confirmation_tag(
    auth: AuthenticatedContent, confirmation_tag: bytes
) -> AuthenticatedContent:
    """``auth`` with the commit's ``confirmation_tag`` set (RFC 9420 6.1, 12.4.1)."""
    _check_tag_placement(auth.content, confirmation_tag, allow_missing=False)
    return dataclasses.replace(auth, confirmation_tag=confirmation_tag)


def verify_content(
    suite: CipherSuite,
    auth: AuthenticatedContent,
    signature_key: SignatureKey,
    group_context: GroupContext | None,
) -> None:
    """Check the signature of ``auth`` and that its confirmation tag is placed right.

    Raises ``CryptoError`` for a bad signature, ``ValidationError`` for a
    missing or misplaced confirmation tag or context.
    """
    _check_tag_placement(auth.content, auth.confirmation_tag, allow_missing=False)
    tbs = framed_content_tbs(auth.wire_format, auth.content, group_context)
    public_key = resolve_signature_key(signature_key, auth.content)
    suite.verify_with_label(public_key, SIGNATURE_LABEL, tbs, auth.signature)


def resolve_signature_key(signature_key: SignatureKey, content: FramedContent) -> bytes:
    """The sender's public key: ``signature_key`` itself or what its lookup returns."""
    if isinstance(signature_key, bytes):
        return signature_key
    key = signature_key(content)
    if not isinstance(key, bytes):
        raise TypeError("a signature key lookup must return bytes or raise an AccordError")
    return key


def _check_tag_placement(
    content: FramedContent, confirmation_tag: bytes | None, allow_missing: bool
) -> None:
    # RFC 9420 6.1: FramedContentAuthData carries confirmation_tag for commits
    # and nothing for application data or proposals.
    if content.content_type == ContentType.COMMIT:
        if confirmation_tag is None and not allow_missing:
            raise ValidationError("a commit carries a confirmation_tag", "RFC 9420 6.1")
    elif confirmation_tag is not None:
        raise ValidationError("only a commit carries a confirmation_tag", "RFC 9420 6.1")
