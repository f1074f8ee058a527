"""PrivateMessage: RFC 9420 section 6.3.

Protecting (6.3.1, 6.3.2):

1. sign the FramedContent for the PrivateMessage wire format (6.1);
2. encode PrivateMessageContent: the content chosen by the outer
   content_type, the FramedContentAuthData fields, then zero padding chosen
   by a :mod:`~accord.mls.padding` policy;
3. take the next key of the sender's ratchet in the secret tree (handshake
   ratchet for proposals and commits, application ratchet for application
   data), XOR a fresh 4-byte reuse guard into the first bytes of its nonce,
   and encrypt with PrivateContentAAD;
4. encrypt SenderData (leaf, generation, reuse guard) under a key and nonce
   derived from ``sender_data_secret`` and the first ``KDF.Nh`` bytes of that
   ciphertext, with SenderDataAAD.

Unprotecting runs the same steps backwards and checks group and epoch, the
sender data AEAD, that the sender leaf is a member (6.3.2), that the
generation's key is still available (9.2: a replayed generation was deleted),
the content AEAD, that the padding is all zeros (6.3.1), the confirmation tag's
placement and the signature.

The secret tree is an immutable value: both directions take a tree and
return the tree without the consumed key. A receiver who fails anywhere keeps
the tree it had, so a forged or corrupted message never burns a key (9.2
deletes a key once it *successfully* decrypts). Framing keeps no state.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container
from typing import TYPE_CHECKING

from accord.errors import DecodeError, ValidationError
from accord.mls.codec import codec_for, decode, decode_prefix, encode, encode_varint
from accord.mls.framing_auth import SignatureKey, sign_content, verify_content
from accord.mls.padding import ACCORD_BUCKETS, PaddingPolicy
from accord.mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce
from accord.mls.structs.enums import ContentType, SenderType, WireFormat
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.messages import (
    AuthenticatedContent,
    FramedContent,
    PrivateContentAAD,
    PrivateMessage,
    Sender,
    SenderData,
    SenderDataAAD,
)
from accord.mls.structs.proposals import Commit, Proposal

if TYPE_CHECKING:
    from accord.mls.suites import CipherSuite

__all__ = [
    "Members",
    "decode_private_content",
    "encode_private_content",
    "private_message_from",
    "protect_private",
    "unprotect_private",
]

# Who may send in this epoch: a predicate on leaf indices, or a container of
# them (a set of the tree's non-blank leaves, for example).
Members = Callable[[int], bool] | Container[int]

REUSE_GUARD_LEN = 4  # RFC 9420 6.3.2: opaque reuse_guard[4]

# The wire form of each content type inside PrivateMessageContent (6.3.1):
# the select arm alone, without the ContentType tag FramedContent carries.
_CONTENT_HINT = {
    ContentType.APPLICATION: bytes,
    ContentType.PROPOSAL: Proposal,
    ContentType.COMMIT: Commit,
}


# --------------------------------------------------------------------------
# PrivateMessageContent (6.3.1)


def encode_private_content(auth: AuthenticatedContent, padding: PaddingPolicy) -> bytes:
    """PrivateMessageContent of ``auth``: content, auth data, then zero padding."""
    content = auth.content
    out = bytearray()
    codec_for(_CONTENT_HINT[ContentType(content.content_type)]).enc(content.content, out)
    _put_opaque(auth.signature, out)
    if content.content_type == ContentType.COMMIT:
        if auth.confirmation_tag is None:
            raise ValidationError("a commit carries a confirmation_tag", "RFC 9420 6.1")
        _put_opaque(auth.confirmation_tag, out)
    pad = padding(len(out))
    if pad < 0:
        raise ValueError("a padding policy returned a negative length")
    out += bytes(pad)
    return bytes(out)


def decode_private_content(
    content_type: int, plaintext: bytes
) -> tuple[bytes | Proposal | Commit, bytes, bytes | None]:
    """(content, signature, confirmation_tag) of a PrivateMessageContent.

    The content is decoded from the front by ``content_type``, then the
    auth fields; every remaining byte is padding and must be zero (6.3.1).
    """
    try:
        hint = _CONTENT_HINT[ContentType(content_type)]
    except ValueError:
        raise ValidationError(f"unknown content type {content_type}", "RFC 9420 6") from None
    value, pos = decode_prefix(hint, plaintext, 0)
    signature, pos = decode_prefix(bytes, plaintext, pos)
    tag = None
    if content_type == ContentType.COMMIT:
        tag, pos = decode_prefix(bytes, plaintext, pos)
    # RFC 9420 6.3.1: a non-zero padding byte makes the message malformed;
    # this keeps padding from being a covert channel.
    padding = plaintext[pos:]
    if padding.count(0) != len(padding):
        raise DecodeError("PrivateMessageContent padding is not all zeros (RFC 9420 6.3.1)")
    return value, signature, tag


def _put_opaque(data: bytes, out: bytearray) -> None:
    encode_varint(len(data), out)
    out += data


# --------------------------------------------------------------------------
# Protect


def protect_private(
    suite: CipherSuite,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    content: FramedContent,
    signature_priv: bytes,
    group_context: GroupContext,
    padding: PaddingPolicy = ACCORD_BUCKETS,
    reuse_guard: bytes | None = None,
    confirmation_tag: bytes | None = None,
) -> tuple[PrivateMessage, SecretTree]:
    """Sign and encrypt ``content`` (RFC 9420 6.1, 6.3).

    Returns the PrivateMessage and the secret tree after the sender's key is
    consumed; keep that tree, or the next message reuses the generation.
    ``reuse_guard`` defaults to four fresh random bytes (6.3.1); pass one
    only to reproduce a known message. For a commit, sign with
    ``sign_content`` first and use :func:`private_message_from`, unless the
    confirmation tag is already known.
    """
    auth = sign_content(
        suite, WireFormat.PRIVATE_MESSAGE, content, signature_priv, group_context, confirmation_tag
    )
    return private_message_from(suite, secret_tree, sender_data_secret, auth, padding, reuse_guard)


def private_message_from(
    suite: CipherSuite,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    auth: AuthenticatedContent,
    padding: PaddingPolicy = ACCORD_BUCKETS,
    reuse_guard: bytes | None = None,
) -> tuple[PrivateMessage, SecretTree]:
    """Encrypt an AuthenticatedContent signed for the PrivateMessage wire format (6.3)."""
    content = auth.content
    if auth.wire_format != WireFormat.PRIVATE_MESSAGE:
        raise ValidationError("the content was signed for another wire format", "RFC 9420 6.1")
    # RFC 9420 6.3.2: only members send PrivateMessages (SenderData names a leaf).
    if content.sender.sender_type != SenderType.MEMBER or content.sender.index is None:
        raise ValidationError("a PrivateMessage sender must be a member", "RFC 9420 6.3.2")
    if reuse_guard is None:
        reuse_guard = os.urandom(REUSE_GUARD_LEN)
    elif len(reuse_guard) != REUSE_GUARD_LEN:
        raise ValidationError("the reuse guard is 4 bytes", "RFC 9420 6.3.2")
    content_type = content.content_type
    plaintext = encode_private_content(auth, padding)
    leaf = content.sender.index
    key, secret_tree = secret_tree.next_key(leaf, RatchetType.for_content_type(content_type))
    aad = PrivateContentAAD(
        content.group_id, content.epoch, content_type, content.authenticated_data
    )
    ciphertext = suite.aead_encrypt(
        key.key, _guarded_nonce(key.nonce, reuse_guard), encode(PrivateContentAAD, aad), plaintext
    )
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, ciphertext)
    sender_data = encode(SenderData, SenderData(leaf, key.generation, reuse_guard))
    sd_aad = encode(SenderDataAAD, SenderDataAAD(content.group_id, content.epoch, content_type))
    encrypted_sender_data = suite.aead_encrypt(sd_key, sd_nonce, sd_aad, sender_data)
    message = PrivateMessage(
        content.group_id,
        content.epoch,
        content_type,
        content.authenticated_data,
        encrypted_sender_data,
        ciphertext,
    )
    return message, secret_tree


def _guarded_nonce(nonce: bytes, reuse_guard: bytes) -> bytes:
    # RFC 9420 6.3.1: XOR the reuse guard into the first four nonce bytes.
    head = int.from_bytes(nonce[:REUSE_GUARD_LEN], "big") ^ int.from_bytes(reuse_guard, "big")
    return head.to_bytes(REUSE_GUARD_LEN, "big") + nonce[REUSE_GUARD_LEN:]


# --------------------------------------------------------------------------
# Unprotect


def unprotect_private(
    suite: CipherSuite,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    message: PrivateMessage,
    signature_key: SignatureKey,
    group_context: GroupContext,
    members: Members,
) -> tuple[AuthenticatedContent, SecretTree]:
    """Decrypt and verify a PrivateMessage (RFC 9420 6.3).

    ``group_context`` is the receiver's current one; ``members`` tells which
    leaves may send; ``signature_key`` is the sender's key or a lookup from
    the decoded content (whose ``sender.index`` is the leaf). Returns the
    AuthenticatedContent and the secret tree without the consumed key.
    Raises ``ValidationError`` (rule named), ``DecodeError`` or ``CryptoError``;
    the given tree is unchanged in every case.
    """
    if message.group_id != group_context.group_id:
        raise ValidationError("the message is for another group", "RFC 9420 6")
    if message.epoch != group_context.epoch:
        raise ValidationError(
            f"the message is for epoch {message.epoch}, the group is at {group_context.epoch}",
            "RFC 9420 12.4.2",
        )
    kind = RatchetType.for_content_type(message.content_type)
    sender = _open_sender_data(suite, sender_data_secret, message)
    if not _is_member(members, sender.leaf_index):
        raise ValidationError(f"leaf {sender.leaf_index} is not a member", "RFC 9420 6.3.2")
    key, new_tree = secret_tree.key_for(sender.leaf_index, kind, sender.generation)
    aad = PrivateContentAAD(
        message.group_id, message.epoch, message.content_type, message.authenticated_data
    )
    nonce = _guarded_nonce(key.nonce, sender.reuse_guard)
    plaintext = suite.aead_decrypt(
        key.key, nonce, encode(PrivateContentAAD, aad), message.ciphertext
    )
    value, signature, tag = decode_private_content(message.content_type, plaintext)
    content = FramedContent(
        message.group_id,
        message.epoch,
        Sender.member(sender.leaf_index),
        message.authenticated_data,
        value,
    )
    auth = AuthenticatedContent(WireFormat.PRIVATE_MESSAGE, content, signature, tag)
    verify_content(suite, auth, signature_key, group_context)
    return auth, new_tree


def _open_sender_data(
    suite: CipherSuite, sender_data_secret: bytes, message: PrivateMessage
) -> SenderData:
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, message.ciphertext)
    sd_aad = encode(
        SenderDataAAD, SenderDataAAD(message.group_id, message.epoch, message.content_type)
    )
    plain = suite.aead_decrypt(sd_key, sd_nonce, sd_aad, message.encrypted_sender_data)
    sender: SenderData = decode(SenderData, plain)
    return sender


def _is_member(members: Members, leaf: int) -> bool:
    if callable(members):
        return bool(members(leaf))
    return leaf in members
