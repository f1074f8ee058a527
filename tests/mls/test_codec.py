"""The TLS presentation codec: varints, strictness, and every RFC 9420 structure.

Round trips and random-input properties cover every ``@wire`` structure and
every variant alias in ``accord.mls.structs`` (issue: MLS core I).
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import DecodeError
from accord.mls import structs
from accord.mls.codec import decode, decode_varint, encode, encode_varint
from tests.mls.wire_strategies import strategy_for

WIRE_CLASSES = sorted(
    (v for v in vars(structs).values() if isinstance(v, type) and hasattr(v, "__wire_fields__")),
    key=lambda c: c.__name__,
)
ALIASES = {
    "Proposal": structs.Proposal,
    "ProposalOrRef": structs.ProposalOrRef,
    "Node": structs.Node,
    "RatchetTree": structs.RatchetTree,
    "TreeHashInput": structs.TreeHashInput,
    "Content": structs.Content,
}
ALL_TYPES = [(c.__name__, c) for c in WIRE_CLASSES] + list(ALIASES.items())
FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def test_every_rfc_structure_is_declared() -> None:
    names = {c.__name__ for c in WIRE_CLASSES}
    for expected in [
        "KeyPackage", "LeafNode", "ParentNode", "GroupContext", "GroupInfo", "Welcome",
        "GroupSecrets", "Commit", "PublicMessage", "PrivateMessage", "MLSMessage",
        "FramedContent", "AuthenticatedContent", "FramedContentTBS", "AuthenticatedContentTBM",
        "SenderData", "UpdatePath", "PreSharedKeyID", "ExternalSender", "RequiredCapabilities",
    ]:
        assert expected in names


@pytest.mark.parametrize(
    ("header", "value"),
    [("25", 37), ("7bbd", 15293), ("9d7f3e7d", 494878333), ("00", 0), ("3f", 63), ("4040", 64)],
)
def test_varint_examples_of_rfc_2_1_2(header: str, value: int) -> None:
    assert decode_varint(bytes.fromhex(header), 0) == (value, len(header) // 2)
    out = bytearray()
    encode_varint(value, out)
    assert out.hex() == header


@pytest.mark.parametrize("header", ["4025", "80003fff", "c0", "c000000000000000", "40", "8000"])
def test_varint_rejects_non_minimal_invalid_and_truncated(header: str) -> None:
    with pytest.raises(DecodeError):
        decode_varint(bytes.fromhex(header), 0)


@given(st.integers(0, (1 << 30) - 1))
def test_varint_round_trip(n: int) -> None:
    out = bytearray()
    encode_varint(n, out)
    assert decode_varint(bytes(out), 0) == (n, len(out))


def test_trailing_bytes_and_bad_optional_octet_are_rejected() -> None:
    data = structs.PathSecret(b"abc").to_bytes()
    with pytest.raises(DecodeError, match="trailing"):
        structs.PathSecret.from_bytes(data + b"\x00")
    secrets = structs.GroupSecrets(b"j", None, ()).to_bytes()
    bad = secrets[:2] + b"\x02" + secrets[3:]
    with pytest.raises(DecodeError, match="presence"):
        structs.GroupSecrets.from_bytes(bad)


def test_unknown_select_values_are_decode_errors() -> None:
    with pytest.raises(DecodeError):
        decode(structs.Sender, b"\x07")
    with pytest.raises(DecodeError):
        decode(structs.Proposal, b"\x00\x63\x00")
    with pytest.raises(DecodeError):
        decode(structs.Credential, b"\x00\x09\x00")


@pytest.mark.parametrize(("name", "hint"), ALL_TYPES, ids=[n for n, _ in ALL_TYPES])
def test_round_trip_of_every_structure(name: str, hint: object) -> None:
    @FAST
    @given(strategy_for(hint))
    def run(value: object) -> None:
        data = encode(hint, value)
        assert decode(hint, data) == value
        assert encode(hint, decode(hint, data)) == data

    run()


@pytest.mark.parametrize(("name", "hint"), ALL_TYPES, ids=[n for n, _ in ALL_TYPES])
def test_T16_random_bytes_raise_only_decode_error(name: str, hint: object) -> None:
    @FAST
    @given(st.binary(max_size=200))
    def run(data: bytes) -> None:
        try:
            value = decode(hint, data)
        except DecodeError:
            return
        assert encode(hint, value) == data

    run()


@pytest.mark.parametrize(("name", "hint"), ALL_TYPES, ids=[n for n, _ in ALL_TYPES])
def test_T16_mutated_valid_encodings_raise_only_decode_error(name: str, hint: object) -> None:
    @FAST
    @given(strategy_for(hint), st.data())
    def run(value: object, data: st.DataObject) -> None:
        raw = bytearray(encode(hint, value))
        cut = data.draw(st.integers(0, len(raw)))
        if raw and data.draw(st.booleans()):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
            candidate = bytes(raw)
        else:
            candidate = bytes(raw[:cut])
        with contextlib.suppress(DecodeError):
            decode(hint, candidate)

    run()
