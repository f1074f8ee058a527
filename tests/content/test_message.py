"""Message content: round trips, strict decoding (T16), padding (T11), franking (T13)."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.content import (
    MAX_CONTENT_BYTES,
    Attachment,
    Content,
    Header,
    ReadReceipt,
    Text,
    TimerSetting,
    bucket_for,
    check_report,
    decode_content,
    encode_content,
    expires_at,
    frank,
    is_bucket,
    is_expired,
    make_content,
    model,
    new_id,
    open_content,
    pad,
    seal,
    unpad,
    verify_commitment,
)
from accord.errors import CryptoError, DecodeError, ValidationError
from tests.content.strategies import bodies, contents

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _content(body: model.BodyKinds, expires_after: int = 0) -> Content:
    return Content(Header(b"\x01" * 16, 1_700_000_000_000, expires_after, b"\x02" * 32), body)


@SETTINGS
@given(contents)
def test_round_trip_every_kind(content: Content) -> None:
    encoded = encode_content(content)
    assert decode_content(encoded) == content
    assert encode_content(decode_content(encoded)) == encoded  # canonical
    sealed = seal(content)
    opened = open_content(sealed.plaintext, sealed.commitment)
    assert opened.content == content
    assert opened.encoded == encoded


def test_every_body_kind_is_covered() -> None:
    assert set(model.BODY_TAGS) == set(model.BodyKinds.__args__)


@SETTINGS
@given(st.binary(max_size=600))
def test_T16_random_bytes_only_decode_error(data: bytes) -> None:
    for parse in (decode_content, open_content, lambda b: decode_content(b"\x01" + b)):
        with contextlib.suppress(DecodeError):
            parse(data)


@SETTINGS
@given(contents, st.data())
def test_T16_mutated_content_only_decode_error(content: Content, data: st.DataObject) -> None:
    encoded = bytearray(encode_content(content))
    i = data.draw(st.integers(0, len(encoded) - 1))
    choice = data.draw(st.integers(0, 2))
    if choice == 0:
        encoded[i] ^= 1 << data.draw(st.integers(0, 7))
    elif choice == 1:
        del encoded[i:]
    else:
        encoded[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        decoded = decode_content(bytes(encoded))
    except DecodeError:
        return
    # Whatever still decodes re-encodes to the same bytes: one meaning per string.
    assert encode_content(decoded) == bytes(encoded)


def test_T16_unknown_version_and_kind_are_decode_errors() -> None:
    encoded = encode_content(_content(TimerSetting(60)))
    with pytest.raises(DecodeError):
        decode_content(b"\x02" + encoded[1:])
    kind_at = 1 + 16 + 8 + 4 + 32
    assert encoded[kind_at] == model.BODY_TAGS[TimerSetting]
    with pytest.raises(DecodeError):
        decode_content(encoded[:kind_at] + b"\x63" + encoded[kind_at + 1 :])
    with pytest.raises(DecodeError):
        decode_content(encoded + b"\x00")
    with pytest.raises(DecodeError):
        decode_content(b"")


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "a/b", "a\\b", "..", ".", " lead", "nul\x00", "bidi\u202egnp.exe"],
)
def test_T16_unsafe_file_names_do_not_decode(name: str) -> None:
    good = Attachment("blob:1", b"k" * 32, b"h" * 32, 1, "text/plain", "x")
    encoded = encode_content(_content(Text("", None, (good,))))
    raw = encoded.replace(b"\x01x", bytes([len(name.encode())]) + name.encode())
    with pytest.raises(DecodeError):
        decode_content(raw)
    with pytest.raises(ValidationError):
        encode_content(
            _content(Text("", None, (Attachment("b", b"k" * 32, b"h" * 32, 1, "a/b", name),)))
        )


def test_T16_bounds_are_enforced_both_ways() -> None:
    with pytest.raises(ValidationError):
        encode_content(_content(Text("x" * (model.MAX_TEXT_BYTES + 1))))
    with pytest.raises(ValidationError):
        encode_content(_content(ReadReceipt(tuple(bytes([i]) * 16 for i in range(2)) * 2)))
    with pytest.raises(ValidationError):
        encode_content(_content(TimerSetting(model.MAX_TIMER_SECONDS + 1)))
    big = encode_content(_content(TimerSetting(model.MAX_TIMER_SECONDS)))
    with pytest.raises(DecodeError):  # a timer above the limit from a peer
        decode_content(big[:-4] + (model.MAX_TIMER_SECONDS + 1).to_bytes(4, "big"))
    with pytest.raises(DecodeError):
        decode_content(b"\x01" * (MAX_CONTENT_BYTES + 1))
    bad_utf8 = encode_content(_content(Text("ab"))).replace(b"\x02ab", b"\x02\xff\xfe")
    with pytest.raises(DecodeError):
        decode_content(bad_utf8)


@SETTINGS
@given(contents)
def test_T11_padded_sizes_are_always_bucket_sizes(content: Content) -> None:
    plaintext = seal(content).plaintext
    assert is_bucket(len(plaintext))
    assert len(plaintext) <= 64 * 1024


@SETTINGS
@given(st.integers(0, 1 << 24))
def test_T11_bucket_for_is_the_smallest_bucket(n: int) -> None:
    b = bucket_for(n)
    assert is_bucket(b) and b >= n
    assert all(not is_bucket(m) for m in range(max(n, 256), b) if m % 256 == 0)


@SETTINGS
@given(st.binary(max_size=3000))
def test_T11_pad_round_trip_and_strictness(data: bytes) -> None:
    padded = pad(data)
    assert is_bucket(len(padded)) and unpad(padded) == data
    with pytest.raises(DecodeError):
        unpad(padded + bytes(bucket_for(len(padded) + 1) - len(padded)))  # non-minimal
    with pytest.raises(DecodeError):
        unpad(padded[:-1])
    with pytest.raises(DecodeError):
        unpad(bytes(len(padded)))  # no marker


def test_T11_biggest_message_fits_the_64k_bucket() -> None:
    body = Text("\U0001f600" * (model.MAX_TEXT_BYTES // 4), os.urandom(16), ())
    atts = tuple(
        Attachment(
            "l" * 512, os.urandom(32), os.urandom(32), 2**32, "a" * 60 + "/" + "b" * 66, "f" * 255
        )
        for _ in range(model.MAX_ATTACHMENTS)
    )
    sealed = seal(_content(Text(body.text, body.reply_to, atts)))
    assert len(sealed.plaintext) <= 64 * 1024


@SETTINGS
@given(contents)
def test_T13_franking_commitment_verifies(content: Content) -> None:
    sealed = seal(content)
    opened = open_content(sealed.plaintext, sealed.commitment)
    assert check_report(opened.encoded, sealed.commitment) == content
    verify_commitment(content.franking_key, opened.encoded, sealed.commitment)


def test_T13_changed_content_key_or_commitment_fails() -> None:
    content = make_content(Text("you are fired"), random_bytes=os.urandom, sent_at=5)
    sealed = seal(content)
    encoded = encode_content(content)
    other = encode_content(Content(content.header, Text("you are hired")))
    with pytest.raises(CryptoError):
        verify_commitment(content.franking_key, other, sealed.commitment)
    with pytest.raises(CryptoError):
        check_report(other, sealed.commitment)
    with pytest.raises(CryptoError):
        verify_commitment(os.urandom(32), encoded, sealed.commitment)
    forged_key = Content(Header(content.message_id, 5, 0, os.urandom(32)), content.body)
    with pytest.raises(CryptoError):
        check_report(encode_content(forged_key), sealed.commitment)
    with pytest.raises(CryptoError):
        open_content(sealed.plaintext, bytes(32))
    with pytest.raises(CryptoError):
        verify_commitment(content.franking_key, encoded, sealed.commitment[:-1])
    assert frank(content.franking_key, encoded) == sealed.commitment


def test_ids_and_keys_come_from_the_callers_randomness() -> None:
    counter = iter(range(256))

    def rng(n: int) -> bytes:
        return bytes([next(counter)]) * n

    c = make_content(Text("hi"), random_bytes=rng, sent_at=0)
    assert c.message_id == b"\x00" * 16 and c.franking_key == b"\x01" * 32
    assert new_id(os.urandom) != new_id(os.urandom)
    with pytest.raises(ValidationError):
        new_id(lambda n: b"short")


def test_expiry_uses_the_time_passed_in() -> None:
    c = _content(Text("gone soon"), expires_after=30)
    deadline = expires_at(c)
    assert deadline == c.header.sent_at + 30_000
    assert not is_expired(c, deadline - 1) and is_expired(c, deadline)
    assert expires_at(_content(Text("stays"))) is None


def test_keys_never_appear_in_reprs() -> None:
    key = bytes(range(32))
    att = Attachment("blob:1", key, b"h" * 32, 1, "text/plain", "a")
    c = Content(Header(b"i" * 16, 0, 0, key), Text("x", None, (att,)))
    text = repr(c) + repr(seal(c)) + repr(open_content(seal(c).plaintext))
    assert key.hex() not in text and repr(key) not in text


@SETTINGS
@given(bodies)
def test_make_content_round_trips(body: model.BodyKinds) -> None:
    c = make_content(body, random_bytes=os.urandom, sent_at=1, expires_after=0)
    assert decode_content(encode_content(c)) == c
