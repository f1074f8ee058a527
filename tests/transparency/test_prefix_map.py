"""The prefix map of current entries: membership and non-membership proofs."""

from __future__ import annotations

import contextlib
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import CryptoError, DecodeError, ValidationError
from accord.mls.codec import decode, encode
from accord.transparency import MapProof, PrefixMap, verify_map_proof
from accord.transparency.prefix_map import EMPTY, MapLeaf

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
keys32 = st.binary(min_size=32, max_size=32)


@SETTINGS
@given(st.dictionaries(keys32, st.binary(max_size=40), max_size=200), st.lists(keys32, max_size=20))
def test_membership_and_non_membership(items: dict[bytes, bytes], others: list[bytes]) -> None:
    m = PrefixMap()
    for k, v in items.items():
        m.set(k, v)
    assert len(m) == len(items)
    for k, v in items.items():
        proof = m.prove(k)
        assert verify_map_proof(m.root, k, proof) == v
        assert decode(MapProof, encode(MapProof, proof)) == proof
    for k in others:
        if k not in items:
            assert verify_map_proof(m.root, k, m.prove(k)) is None


@SETTINGS
@given(st.dictionaries(keys32, st.binary(max_size=40), min_size=1, max_size=100), st.randoms())
def test_root_is_a_function_of_the_contents(items: dict[bytes, bytes], rnd: random.Random) -> None:
    a, b = PrefixMap(), PrefixMap()
    order = list(items.items())
    for k, v in order:
        a.set(k, b"stale")
        a.set(k, v)
    rnd.shuffle(order)
    for k, v in order:
        b.set(k, v)
    assert a.root == b.root


def test_keys_sharing_long_prefixes() -> None:
    m = PrefixMap()
    base = bytes(31)
    keys = [base + bytes([b]) for b in (0, 1, 2, 128, 255)] + [b"\xff" * 32]
    for i, k in enumerate(keys):
        m.set(k, bytes([i]))
    for i, k in enumerate(keys):
        assert verify_map_proof(m.root, k, m.prove(k)) == bytes([i])
    assert (
        verify_map_proof(m.root, base[:-1] + b"\x01\x00", m.prove(base[:-1] + b"\x01\x00")) is None
    )


def _map(n: int = 64) -> tuple[PrefixMap, list[bytes]]:
    m, keys = PrefixMap(), [os.urandom(32) for _ in range(n)]
    for i, k in enumerate(keys):
        m.set(k, i.to_bytes(8, "big"))
    return m, keys


def test_T06_tampered_map_proofs_fail() -> None:
    m, keys = _map()
    k = keys[7]
    p = m.prove(k)
    assert p.leaf is not None
    flipped = (bytes([p.siblings[0][0] ^ 1]) + p.siblings[0][1:],) + p.siblings[1:]
    for bad in [
        MapProof(flipped, p.leaf),
        MapProof(p.siblings[:-1], p.leaf),
        MapProof(p.siblings, MapLeaf(k, b"\x00" * 8)),  # another value
        MapProof(p.siblings, None),  # claims absence of a present key
    ]:
        with pytest.raises(CryptoError):
            verify_map_proof(m.root, k, bad)
    # Another key's leaf moved onto this key's path does not fit.
    other = m.prove(keys[8])
    with pytest.raises(CryptoError):
        verify_map_proof(m.root, k, MapProof(p.siblings, other.leaf))
    with pytest.raises(ValidationError):
        verify_map_proof(m.root, k[:-1], p)


def test_T06_non_canonical_shapes_are_refused() -> None:
    m = PrefixMap()
    k = b"\x00" * 32
    m.set(k, b"v")
    # One leaf hidden under an inner node with an empty sibling.
    fake = MapProof((EMPTY,), MapLeaf(k, b"v"))
    with pytest.raises(CryptoError):
        verify_map_proof(m.root, k, fake)


def test_empty_map_proves_absence() -> None:
    m = PrefixMap()
    k = os.urandom(32)
    assert m.root == EMPTY and verify_map_proof(EMPTY, k, m.prove(k)) is None


@SETTINGS
@given(st.binary(max_size=300))
def test_T16_random_map_proofs_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(MapProof, data)
