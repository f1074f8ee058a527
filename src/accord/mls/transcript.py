"""Transcript hashes and the confirmation tag: RFC 9420 sections 8.2 and 6.1.

The hashes take the encoded pieces of an AuthenticatedContent, so framing code
that already holds the bytes of a FramedContent hashes them without encoding
them again: ConfirmedTranscriptHashInput is an AuthenticatedContent without
its confirmation tag, and InterimTranscriptHashInput is the tag as
``opaque<V>``.
"""

from __future__ import annotations

import hmac

from accord.errors import CryptoError
from accord.mls.codec import opaque
from accord.mls.suites import CipherSuite

__all__ = [
    "confirmation_tag",
    "confirmed_transcript_hash",
    "confirmed_transcript_input",
    "interim_transcript_hash",
    "update_transcript_hashes",
    "verify_confirmation_tag",
]


def confirmed_transcript_input(wire_format: int, framed_content: bytes, signature: bytes) -> bytes:
    """The bytes of ConfirmedTranscriptHashInput (8.2).

    ``framed_content`` is the encoded FramedContent (of a Commit).
    """
    return wire_format.to_bytes(2, "big") + framed_content + opaque(signature)


def confirmed_transcript_hash(
    suite: CipherSuite, interim_before: bytes, confirmed_input: bytes
) -> bytes:
    """Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n]) (8.2)."""
    return suite.hash(interim_before + confirmed_input)


def interim_transcript_hash(suite: CipherSuite, confirmed: bytes, tag: bytes) -> bytes:
    """Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n]) (8.2)."""
    return suite.hash(confirmed + opaque(tag))


def update_transcript_hashes(
    suite: CipherSuite,
    interim_before: bytes,
    wire_format: int,
    framed_content: bytes,
    signature: bytes,
    tag: bytes,
) -> tuple[bytes, bytes]:
    """(confirmed, interim) transcript hashes after one Commit (8.2)."""
    confirmed = confirmed_transcript_hash(
        suite, interim_before, confirmed_transcript_input(wire_format, framed_content, signature)
    )
    return confirmed, interim_transcript_hash(suite, confirmed, tag)


def confirmation_tag(suite: CipherSuite, confirmation_key: bytes, confirmed: bytes) -> bytes:
    """MAC(confirmation_key, confirmed_transcript_hash) (6.1)."""
    return suite.mac(confirmation_key, confirmed)


def verify_confirmation_tag(
    suite: CipherSuite, confirmation_key: bytes, confirmed: bytes, tag: bytes
) -> None:
    """Raise ``CryptoError`` unless ``tag`` is the confirmation tag of ``confirmed`` (6.1)."""
    if not hmac.compare_digest(confirmation_tag(suite, confirmation_key, confirmed), tag):
        raise CryptoError("confirmation tag does not verify (RFC 9420 6.1)")
