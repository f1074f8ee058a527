"""Combining pre-shared keys into psk_secret: RFC 9420 section 8.4.

Where a PSK's bytes come from (an application's store for external PSKs, an
earlier epoch's ``resumption_psk`` for resumption PSKs) is the caller's
business; this module only chains them, in the order the Commit or the
GroupSecrets lists them.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.errors import ValidationError
from accord.mls.codec import U16, WireStruct, wire
from accord.mls.structs import PreSharedKeyID
from accord.mls.suites import CipherSuite

__all__ = ["PSKLabel", "psk_secret"]


@wire
class PSKLabel(WireStruct):
    id: PreSharedKeyID
    index: U16
    count: U16


def psk_secret(suite: CipherSuite, psks: Sequence[tuple[PreSharedKeyID, bytes]]) -> bytes:
    """psk_secret_[n] of the (PreSharedKeyID, psk) pairs, in order (8.4).

    With no PSKs this is the all-zero vector of length KDF.Nh.
    """
    nh = suite.kdf_len
    count = len(psks)
    if count >= 1 << 16:
        raise ValidationError("too many PSKs for a uint16 count", "RFC 9420 8.4")
    zero = bytes(nh)
    secret = zero
    for index, (psk_id, psk) in enumerate(psks):
        extracted = suite.kdf_extract(zero, psk)
        label = PSKLabel(psk_id, index, count).to_bytes()
        psk_input = suite.expand_with_label(extracted, "derived psk", label, nh)
        # psk_secret_[i] = KDF.Extract(psk_input_[i-1], psk_secret_[i-1]): salt first.
        secret = suite.kdf_extract(psk_input, secret)
    return secret
