"""Deterministic CBOR (RFC 8949 4.2.1) as draft-ietf-mimi-content-08 section 6 needs it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.content import cbor
from accord.errors import DecodeError, ValidationError

# RFC 8949 Appendix A, the items in the deterministic subset.
APPENDIX_A = [
    (0, "00"), (23, "17"), (24, "1818"), (100, "1864"), (1000, "1903e8"),
    (1000000, "1a000f4240"), (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"), (-1, "20"), (-1000, "3903e7"),
    (0.0, "f90000"), (-0.0, "f98000"), (1.0, "f93c00"), (1.5, "f93e00"), (65504.0, "f97bff"),
    (100000.0, "fa47c35000"), (1.1, "fb3ff199999999999a"), (-4.1, "fbc010666666666666"),
    (float("inf"), "f97c00"), (float("nan"), "f97e00"), (False, "f4"), (True, "f5"),
    (None, "f6"), (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"), ("", "60"), ("a", "6161"),
    ("\u00fc", "62c3bc"), ("\u6c34", "63e6b0b4"), ((), "80"), ((1, 2, 3), "83010203"),
    ((1, (2, 3), (4, 5)), "8301820203820405"), ({}, "a0"), ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": (2, 3)}, "a26161016162820203"),
    (cbor.Tag(32, "http://www.example.com"), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
]


@pytest.mark.parametrize(("value", "hex_"), APPENDIX_A, ids=[h for _, h in APPENDIX_A])
def test_rfc8949_appendix_a(value: object, hex_: str) -> None:
    assert cbor.encode(value).hex() == hex_
    decoded = cbor.decode(bytes.fromhex(hex_))
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(decoded)
    else:
        assert decoded == value and type(decoded) is type(value)


def test_map_keys_sort_bytewise_not_length_first() -> None:
    # RFC 8949 4.2.1 order (the draft forbids RFC 7049's length-first order): 100 (0x1864)
    # before -1 (0x20), "z" before "aa".
    assert cbor.encode({-1: 0, 100: 0, "aa": 0, "z": 0}).hex() == "a4186400200061" "7a" "00626161" "00"


@pytest.mark.parametrize(
    ("hex_", "reason"),
    [
        ("1817", "shortest form"),  # 23 in two bytes
        ("190017", "shortest form"),
        ("1a0000ffff", "shortest form"),
        ("1b00000000ffffffff", "shortest form"),
        ("5800", "shortest form"),  # empty byte string, long length
        ("5f40ff", "indefinite"),
        ("9fff", "indefinite"),
        ("1c", "reserved"),
        ("a202000100", "bytewise order"),  # keys 2 then 1
        ("a201000100", "bytewise order"),  # key 1 twice
        ("a22000186400", "bytewise order"),  # -1 before 100: length-first order
        ("a1f400", "map key"),
        ("a1f93c0000", "map key"),
        ("a11b002000000000000000", "exceeds 2"),
        ("62c328", "UTF-8"),
        ("0000", "after the CBOR item"),
        ("fa3f800000", "shortest form"),  # 1.0 as a single
        ("f97e01", "NaN"),
        ("fb7ff8000000000000", "NaN"),
        ("c24101", "bignums"),
        ("f7", "simple value"),
        ("f820", "simple value"),
        ("ff", "simple value"),
        ("5a00010000", "past the end"),
        ("9a00010000", "longer than the input"),
        ("81" * 17 + "00", "deeper"),
    ],
)
def test_non_deterministic_or_malformed_input_is_refused(hex_: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        cbor.decode(bytes.fromhex(hex_))


def test_encoder_refuses_what_has_no_deterministic_encoding() -> None:
    with pytest.raises(ValidationError, match="64 bits"):
        cbor.encode(1 << 64)
    with pytest.raises(ValidationError, match="map key"):
        cbor.encode({(1,): 2})
    with pytest.raises(ValidationError, match="2\\^53"):
        cbor.encode({1 << 53: 0})
    with pytest.raises(ValidationError, match="bignums"):
        cbor.encode(cbor.Tag(2, b"\x01"))
    with pytest.raises(ValidationError, match="no CBOR encoding"):
        cbor.encode({1, 2})


_keys = st.one_of(st.integers(-cbor.MAX_KEY_INT, cbor.MAX_KEY_INT), st.text(max_size=8),
                  st.binary(max_size=8))
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(1 << 64), (1 << 64) - 1), st.binary(max_size=20),
    st.text(max_size=20), st.floats(allow_nan=False),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(_keys, inner, max_size=4),
        st.builds(cbor.Tag, st.integers(4, 1 << 20), inner),
    ),
    max_leaves=12,
)


@given(_values)
def test_encode_then_decode_is_identity(value: object) -> None:
    data = cbor.encode(value)
    assert cbor.decode(data) == value
    assert cbor.encode(cbor.decode(data)) == data


@given(st.binary(max_size=40))
def test_whatever_decodes_re_encodes_to_the_same_bytes(data: bytes) -> None:
    try:
        value = cbor.decode(data)
    except DecodeError:
        return
    assert cbor.encode(value) == data
