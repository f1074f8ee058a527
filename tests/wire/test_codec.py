from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from accord.errors import CryptoError, DecodeError, ValidationError
from accord.wire import codec, signing
from accord.wire import messages as m


def commit_json(**over: object) -> bytes:
    obj = {"epoch": 3, "commit": "AAEC", "posting_key": codec.b64e(b"k" * 32)}
    obj.update(over)
    return json.dumps(obj).encode()


def test_round_trip_keeps_every_field() -> None:
    req = m.CommitRequest(
        epoch=7,
        commit=b"\x00\x01",
        posting_key=b"p" * 32,
        added=["A" * 22],
        removed=[],
        welcome=b"w",
        first_contact=[],  # lists decode as lists; the dataclass default is a tuple
    )
    assert codec.parse(m.CommitRequest, codec.dumps(req)) == req


@given(
    st.binary(min_size=16, max_size=32),
    st.binary(min_size=1, max_size=300),
    st.integers(0, m.EPOCH_MAX),
)
def test_round_trip_application_posts(nonce: bytes, ct: bytes, epoch: int) -> None:
    post = m.ApplicationPost(epoch=epoch, nonce=nonce, ciphertext=ct, signature=b"s" * 64)
    assert codec.parse(m.ApplicationPost, codec.dumps(post)) == post


@pytest.mark.parametrize(
    "raw, error",
    [
        (b"{not json", DecodeError),
        (b"[]", ValidationError),
        (commit_json(extra=1), ValidationError),
        (commit_json(epoch=True), ValidationError),
        (commit_json(epoch=-1), ValidationError),
        (commit_json(epoch=2**63), ValidationError),
        (commit_json(epoch="3"), ValidationError),
        (commit_json(commit="AAEC=="), DecodeError),
        (commit_json(commit="A+/C"), DecodeError),
        (commit_json(commit="A"), DecodeError),
        (commit_json(commit=""), ValidationError),
        (commit_json(posting_key="AAEC"), ValidationError),
        (commit_json(added=["short"]), ValidationError),
        (commit_json(added="A" * 22), ValidationError),
        (commit_json(welcome=None, commit=None), ValidationError),
        (json.dumps({"epoch": 1}).encode(), ValidationError),
        (b"\xff\xfe", DecodeError),
    ],
)
def test_strict_decoding_refuses_bad_input(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        codec.parse(m.CommitRequest, raw)


def test_optional_null_is_accepted() -> None:
    assert codec.parse(m.CommitRequest, commit_json(welcome=None)).welcome is None


def test_account_pattern() -> None:
    good = {"account": "alice@alpha.test", "signature_key": "A" * 43, "signature": "A" * 86}
    assert codec.decode(m.RegisterRequest, good).account == "alice@alpha.test"
    for bad in ("Alice@alpha.test", "alice", "@alpha.test", "alice@", "a b@alpha.test"):
        with pytest.raises(ValidationError):
            codec.decode(m.RegisterRequest, dict(good, account=bad))


def test_schema_matches_declaration() -> None:
    schema = codec.json_schema(m.CommitRequest)
    assert schema["required"] == ["epoch", "commit", "posting_key"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["posting_key"]["minLength"] == 43


def test_signing_inputs_are_domain_separated() -> None:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    msg = signing.post_input(b"g", 1, b"n" * 16, b"ct")
    sig = key.sign(msg)
    signing.verify(pub, sig, msg)
    with pytest.raises(CryptoError):
        signing.verify(pub, sig, signing.post_input(b"g", 2, b"n" * 16, b"ct"))
    # Length prefixes: moving a byte between fields changes the input.
    assert signing.register_input("ab", b"c") != signing.register_input("a", b"bc")
    assert not signing.login_input("d", "x", b"n").startswith(b"MLS 1.0 ")
    with pytest.raises(CryptoError):
        signing.verify(b"short", sig, msg)


def test_non_canonical_base64_is_refused() -> None:
    """Found by the wire_json fuzz target (issue 24): "AAB" and "AAA" both decoded to
    the same bytes, so one message had two bodies. Unused trailing bits must be zero."""
    from accord.wire.codec import b64d, b64e

    assert b64d("AAA") == b"\x00\x00"
    with pytest.raises(DecodeError, match="canonical"):
        b64d("AAB")
    for n in range(6):
        assert b64d(b64e(bytes(range(n)))) == bytes(range(n))
