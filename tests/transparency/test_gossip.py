"""Head gossip: cosignatures, and a split view caught when cosigned heads meet (T06)."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import CryptoError, ValidationError
from accord.mls.codec import decode, encode
from accord.transparency import (
    Cosignature,
    KeyDirectory,
    cosign,
    detect_split_view,
    verify_cosignature,
)

PROVIDER = Ed25519PrivateKey.generate()
WITNESS_B = Ed25519PrivateKey.generate()
WITNESS_C = Ed25519PrivateKey.generate()


def test_cosignature_round_trip_and_checks() -> None:
    d = KeyDirectory("a.example", b"\x01" * 32)
    d.publish("alice@a.example", [b"\x02" * 32], now=1)
    sth = d.signed_head(PROVIDER, now=2)
    cos = cosign(WITNESS_B, "b.example", sth, now=3)
    assert decode(Cosignature, encode(Cosignature, cos)) == cos
    verify_cosignature(WITNESS_B.public_key(), "b.example", sth, cos)
    verify_cosignature(WITNESS_B.public_key().public_bytes_raw(), "b.example", sth, cos)
    with pytest.raises(ValidationError):
        verify_cosignature(WITNESS_B.public_key(), "c.example", sth, cos)
    with pytest.raises(CryptoError):
        verify_cosignature(WITNESS_C.public_key(), "b.example", sth, cos)
    later = d.signed_head(PROVIDER, now=9)
    with pytest.raises(CryptoError):
        verify_cosignature(WITNESS_B.public_key(), "b.example", later, cos)
    forged = dataclasses.replace(cos, tbs=dataclasses.replace(cos.tbs, timestamp=4))
    with pytest.raises(CryptoError):
        verify_cosignature(WITNESS_B.public_key(), "b.example", sth, forged)


def test_T06_two_witnesses_shown_different_heads() -> None:
    """Provider A shows witness B one log and witness C another; their
    cosigned heads, compared by any client, are conclusive evidence."""
    honest, forked = (
        KeyDirectory("a.example", b"\x01" * 32),
        KeyDirectory("a.example", b"\x01" * 32),
    )
    honest.publish("alice@a.example", [b"\x02" * 32], now=1)
    forked.publish("alice@a.example", [b"\x02" * 32, b"\x66" * 32], now=1)
    to_b, to_c = honest.signed_head(PROVIDER, now=5), forked.signed_head(PROVIDER, now=5)
    cos_b = cosign(WITNESS_B, "b.example", to_b, now=6)
    cos_c = cosign(WITNESS_C, "c.example", to_c, now=6)
    verify_cosignature(WITNESS_B.public_key(), "b.example", to_b, cos_b)
    verify_cosignature(WITNESS_C.public_key(), "c.example", to_c, cos_c)
    evidence = detect_split_view(PROVIDER.public_key(), to_b, to_c)
    assert evidence is not None and evidence.conclusive
