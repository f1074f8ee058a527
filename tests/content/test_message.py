"""Message content: its rules both ways (T16), padding of blobs (T11), franking of the
MIMI body (T13); the body itself is tested in test_sealing.py."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.content import (
    MAX_BODY_BYTES,
    Attachment,
    Content,
    Header,
    ReadReceipt,
    Text,
    TimerSetting,
    bucket_for,
    check_content,
    check_franking_tag,
    check_report,
    decode_body,
    expires_at,
    franking_tag,
    is_bucket,
    is_expired,
    make_content,
    mimi,
    model,
    new_id,
    open_content,
    pad,
    seal,
    unpad,
)
from accord.content.mimi_map import MemoryIndex, Unsupported
from accord.errors import CryptoError, DecodeError, ValidationError
from tests.content.strategies import bodies, contents, knowing

ALICE, ROOM = "mimi://a.example/u/alice", "mimi://a.example/r/room"
# MIMI's expiry is seconds in 32 bits (draft 4.1): a content expiring after 2106 is not sent
sendable = contents.filter(lambda c: c.header.sent_at // 1000 + c.header.expires_after < 1 << 32)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _content(body: model.BodyKinds, expires_after: int = 0) -> Content:
    return Content(Header(b"\x01" * 16, 1_700_000_000_000, expires_after), body)


def _seal(content: Content):  # type: ignore[no-untyped-def]
    return seal(content, knowing(content.body), ALICE, ROOM)


def _open(data: bytes, commitment: bytes):  # type: ignore[no-untyped-def]
    return open_content(data, commitment, MemoryIndex(), sender_uri=ALICE, room_uri=ROOM,
                        received_at=1_700_000_000_000)


def test_every_body_kind_is_covered() -> None:
    assert set(model.BODY_TAGS) == set(model.BodyKinds.__args__)


@SETTINGS
@given(st.binary(max_size=600))
def test_T16_random_bytes_only_decode_error(data: bytes) -> None:
    for parse in (decode_body, lambda b: _open(b, bytes(32))):
        with contextlib.suppress(DecodeError, CryptoError):
            parse(data)


@SETTINGS
@given(sendable, st.data())
def test_T16_mutated_body_only_typed_errors(content: Content, data: st.DataObject) -> None:
    encoded = bytearray(_seal(content).plaintext)
    i = data.draw(st.integers(0, len(encoded) - 1))
    choice = data.draw(st.integers(0, 2))
    if choice == 0:
        encoded[i] ^= 1 << data.draw(st.integers(0, 7))
    elif choice == 1:
        del encoded[i:]
    else:
        encoded[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        decoded = decode_body(bytes(encoded))
    except DecodeError:
        return
    # Whatever still decodes re-encodes to the same bytes: one meaning per string.
    assert mimi.encode_content(decoded) == bytes(encoded)
    with contextlib.suppress(DecodeError, CryptoError, ValidationError):
        _open(bytes(encoded), franking_tag(decoded.salt, bytes(encoded)))


def _received(sent: Content, **part: object) -> object:
    """``content`` as another client could send it, with fields of its first external
    part (or its single part) changed: what the receiver makes of it."""
    m = mimi.decode_content(_seal(sent).plaintext)
    body = m.body
    if isinstance(body, mimi.MultiPart):
        body = dataclasses.replace(body, parts=(body.parts[0], dataclasses.replace(
            body.parts[1], **part), *body.parts[2:]))
    else:
        body = dataclasses.replace(body, **part)
    data = mimi.encode_content(dataclasses.replace(m, body=body))
    return _open(data, franking_tag(sent.message_id, data)).content


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "a/b", "a\\b", "..", ".", " lead", "nul\x00", "bidi\u202egnp.exe"],
)
def test_T16_unsafe_file_names_are_refused_both_ways(name: str) -> None:
    good = Attachment("blob:1", b"k" * 32, b"h" * 32, 1, "text/plain", "x")
    content = _content(Text("", None, (good,)))
    assert _received(content, filename="y") == _content(Text("", None, (
        dataclasses.replace(good, file_name="y"),)))
    got = _received(content, filename=name)
    assert isinstance(got, Unsupported) and "limits" in got.reason
    with pytest.raises(ValidationError):
        check_content(
            _content(Text("", None, (Attachment("b", b"k" * 32, b"h" * 32, 1, "a/b", name),)))
        )
    with pytest.raises(ValidationError):
        _seal(_content(Text("", None, (Attachment("b", b"k" * 32, b"h" * 32, 1, "a/b", name),))))


def test_T16_bounds_are_enforced_both_ways() -> None:
    with pytest.raises(ValidationError):
        check_content(_content(Text("x" * (model.MAX_TEXT_BYTES + 1))))
    with pytest.raises(ValidationError):
        check_content(_content(ReadReceipt(tuple(bytes([i]) * 16 for i in range(2)) * 2)))
    with pytest.raises(ValidationError):
        _seal(_content(TimerSetting(model.MAX_TIMER_SECONDS + 1)))
    ok = _content(TimerSetting(model.MAX_TIMER_SECONDS))
    assert _received(ok) == ok
    too_long = mimi.cbor.encode(model.MAX_TIMER_SECONDS + 1)
    assert isinstance(_received(ok, content=too_long), Unsupported)  # from a peer
    long_text = _content(Text("x"))
    got = _received(long_text, content=b"x" * (model.MAX_TEXT_BYTES + 1))
    assert isinstance(got, Unsupported)
    got = _received(long_text, content=b"\xff\xfe")  # not UTF-8
    assert isinstance(got, Unsupported)
    with pytest.raises(DecodeError):
        decode_body(b"\x01" * (MAX_BODY_BYTES + 1))


def test_T11_the_body_is_not_padded_mls_pads_it() -> None:
    # One format: the body is the MIMI content itself; the size is hidden by the
    # padding of the MLS PrivateMessageContent (tests/privacy, accord.mls.padding).
    sealed = _seal(_content(Text("hi")))
    assert sealed.plaintext == mimi.encode_content(mimi.decode_content(sealed.plaintext))
    assert not sealed.plaintext.endswith(b"\x80" + bytes(8))


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


def test_T11_biggest_message_fits_the_body_limit() -> None:
    body = Text("\U0001f600" * (model.MAX_TEXT_BYTES // 4), None, ())
    atts = tuple(
        Attachment(
            "l" * 512, os.urandom(32), os.urandom(32), 2**32, "a" * 60 + "/" + "b" * 66, "f" * 255
        )
        for _ in range(model.MAX_ATTACHMENTS)
    )
    index = MemoryIndex()
    index.record(_content(Text("earlier")), b"\x01" + bytes(31))
    replying = _content(Text(body.text, b"\x01" * 16, atts))
    index.record(Content(Header(b"\x01" * 16, 0, 0), Text("x")), b"\x01" * 32)
    sealed = seal(replying, index, ALICE, ROOM)
    assert len(sealed.plaintext) <= MAX_BODY_BYTES


@SETTINGS
@given(sendable)
def test_T13_franking_tag_verifies(content: Content) -> None:
    content = dataclasses.replace(content, body=Text("reported"),  # no references, no expiry
                                  header=dataclasses.replace(content.header, expires_after=0))
    sealed = _seal(content)
    opened = _open(sealed.plaintext, sealed.franking_tag)
    assert check_report(opened.encoded, sealed.franking_tag).salt == content.message_id
    check_franking_tag(content.message_id, opened.encoded, sealed.franking_tag)


def test_T13_changed_content_salt_or_tag_fails() -> None:
    content = make_content(Text("you are fired"), random_bytes=os.urandom, sent_at=5)
    sealed = _seal(content)
    encoded = sealed.plaintext
    other = _seal(dataclasses.replace(content, body=Text("you are hired"))).plaintext
    with pytest.raises(CryptoError):
        check_franking_tag(content.message_id, other, sealed.franking_tag)
    with pytest.raises(CryptoError):
        check_report(other, sealed.franking_tag)
    with pytest.raises(CryptoError):
        check_franking_tag(os.urandom(16), encoded, sealed.franking_tag)
    other_salt = dataclasses.replace(content, header=dataclasses.replace(
        content.header, message_id=os.urandom(16)))
    with pytest.raises(CryptoError):
        check_report(_seal(other_salt).plaintext, sealed.franking_tag)
    with pytest.raises(CryptoError):
        _open(sealed.plaintext, bytes(32))
    with pytest.raises(CryptoError):
        check_franking_tag(content.message_id, encoded, sealed.franking_tag[:-1])
    assert franking_tag(content.message_id, encoded) == sealed.franking_tag


def test_ids_come_from_the_callers_randomness() -> None:
    counter = iter(range(256))

    def rng(n: int) -> bytes:
        return bytes([next(counter)]) * n

    c = make_content(Text("hi"), random_bytes=rng, sent_at=0)
    assert c.message_id == b"\x00" * 16 and next(counter) == 1  # one draw: the salt
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
    c = Content(Header(b"i" * 16, 0, 0), Text("x", None, (att,)))
    sealed = _seal(c)
    text = repr(c) + repr(sealed) + repr(_open(sealed.plaintext, sealed.franking_tag))
    assert key.hex() not in text and repr(key) not in text


@SETTINGS
@given(bodies)
def test_make_content_round_trips(body: model.BodyKinds) -> None:
    c = make_content(body, random_bytes=os.urandom, sent_at=1, expires_after=0)
    check_content(c)
