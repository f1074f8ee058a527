"""Safe AAD (draft-ietf-mls-extensions 4.9): the framing of ``authenticated_data`` as
sorted SafeAADItems round-trips, and hostile bytes are a DecodeError, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import DecodeError
from accord.mls.structs.app_data import SafeAAD, SafeAADItem

items = st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=64), max_size=8)


@settings(max_examples=100, deadline=None)
@given(items=items)
def test_safe_aad_round_trips(items: dict[int, bytes]) -> None:
    aad = SafeAAD.of(items)
    back = SafeAAD.from_bytes(aad.to_bytes())
    assert back == aad
    assert [i.component_id for i in back.aad_items] == sorted(items)
    assert all(back.get(c) == d for c, d in items.items())
    assert back.get(next(c for c in range(0x10000) if c not in items)) is None


def test_no_items_is_a_zero_length_vector() -> None:
    assert SafeAAD().to_bytes() == b"\x00"  # 4.9: aad_items is a zero-length vector
    assert SafeAAD.from_bytes(b"\x00") == SafeAAD()


@pytest.mark.parametrize("items", [
    ((2, b"a"), (1, b"b")),  # out of order
    ((1, b"a"), (1, b"b")),  # one id twice
])
def test_unsorted_or_repeated_items_are_refused(items: tuple[tuple[int, bytes], ...]) -> None:
    raw = SafeAAD.__new__(SafeAAD)  # encode the bad order without the constructor's check
    object.__setattr__(raw, "aad_items", tuple(SafeAADItem(c, d) for c, d in items))
    with pytest.raises(DecodeError, match="sorted by component_id"):
        SafeAAD.from_bytes(raw.to_bytes())
    with pytest.raises(DecodeError):
        SafeAAD(tuple(SafeAADItem(c, d) for c, d in items))


@pytest.mark.parametrize("data", [
    b"",  # no vector at all
    b"\x05\x00\x01\x01",  # shorter than its length
    b"\x03\x00\x01\x05",  # an item's data past the vector
    b"\x00\x00",  # a byte after the struct
])
def test_malformed_bytes_are_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        SafeAAD.from_bytes(data)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=80))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        aad = SafeAAD.from_bytes(data)
    except DecodeError:
        return
    assert aad.to_bytes() == data  # one encoding per value
