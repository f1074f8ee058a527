"""The body of application messages as MIMI content: sealed and opened with the
authenticated sender and room, franked over the exact bytes, refused when the content
names another sender or room (draft-ietf-mimi-content-08 9.1), never a crash on what
Accord cannot show."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets

import pytest
from hypothesis import given, settings

from accord.content import franking_tag, make_content, mimi, model
from accord.content.mimi_map import ACCORD_EXTENSION, MemoryIndex, NoEffect, Unsupported
from accord.content.sealing import MAX_BODY_BYTES, check_report, decode_body, open_content, seal
from accord.errors import CryptoError, DecodeError, ValidationError

from .strategies import bodies, knowing

ALICE, BOB = "mimi://a.example/u/alice", "mimi://b.example/u/bob"
ROOM, OTHER_ROOM = "mimi://a.example/r/AAAA", "mimi://a.example/r/BBBB"


def _content(body: model.BodyKinds, expires_after: int = 0) -> model.Content:
    return make_content(body, random_bytes=secrets.token_bytes, sent_at=1_700_000_000_000,
                        expires_after=expires_after)


def _open(sealed, index=None, sender=ALICE, room=ROOM):  # type: ignore[no-untyped-def]
    return open_content(sealed.plaintext, sealed.franking_tag, index or MemoryIndex(),
                        sender_uri=sender, room_uri=room, received_at=1_700_000_000_500)


def test_a_text_is_sealed_as_mimi_content_unpadded_and_opens() -> None:
    c = _content(model.Text("hello"))
    sealed = seal(c, MemoryIndex(), ALICE, ROOM)
    # the body is the MIMI content itself, no padding: MLS pads (RFC 9420 6.3.1)
    m = mimi.decode_content(sealed.plaintext)
    assert mimi.encode_content(m) == sealed.plaintext
    assert m.salt == c.message_id and m.sender_uri == ALICE and m.room_uri == ROOM
    assert sealed.mimi_id == mimi.message_id(sealed.plaintext, ALICE, ROOM)
    # draft-ietf-mimi-protocol-06 5.4.1.1: HMAC-SHA256 keyed by the content's salt
    assert sealed.franking_tag == hmac.new(c.message_id, sealed.plaintext, hashlib.sha256).digest()
    opened = _open(sealed)
    assert opened.content == c and opened.mimi_id == sealed.mimi_id
    assert opened.message_id == c.message_id and opened.encoded == sealed.plaintext


def test_references_are_mimi_ids_and_resolve_through_the_index() -> None:
    sender_index, reader_index = MemoryIndex(), MemoryIndex()
    first = _content(model.Text("first"))
    s1 = seal(first, sender_index, ALICE, ROOM)
    sender_index.record(first, s1.mimi_id)
    reader_index.record(_open(s1, reader_index).content, _open(s1).mimi_id)  # type: ignore[arg-type]
    reply = _content(model.Text("a reply", first.message_id))
    s2 = seal(reply, sender_index, ALICE, ROOM)
    assert mimi.decode_content(s2.plaintext).in_reply_to == s1.mimi_id
    assert _open(s2, reader_index).content == reply
    # a reader that never saw the first message still reads the reply, unattached
    unattached = _open(s2, MemoryIndex()).content
    assert isinstance(unattached, model.Content) and unattached.body == model.Text("a reply")


def test_a_content_naming_another_sender_than_mls_authenticated_is_refused() -> None:
    # Bob's device sends a content whose senderUri (extension 1) says Alice: MLS
    # authenticates Bob, so the receiver refuses it (9.1).
    forged = seal(_content(model.Text("I am alice")), MemoryIndex(), ALICE, ROOM)
    with pytest.raises(ValidationError, match="another sender or room"):
        _open(forged, sender=BOB)
    with pytest.raises(ValidationError, match="another sender or room"):
        _open(forged, room=OTHER_ROOM)
    assert isinstance(_open(forged).content, model.Content)


def test_the_message_id_is_computed_from_the_authenticated_sender_and_room() -> None:
    c = _content(model.Text("no URIs in the content"))
    sealed = seal(c, MemoryIndex(), ALICE, ROOM)
    m = mimi.decode_content(sealed.plaintext)
    bare = mimi.encode_content(dataclasses.replace(
        m, extensions={ACCORD_EXTENSION: m.extensions[ACCORD_EXTENSION]}))
    opened = open_content(bare, franking_tag(c.message_id, bare), MemoryIndex(), sender_uri=BOB,
                          room_uri=ROOM, received_at=0)
    assert opened.mimi_id == mimi.message_id(bare, BOB, ROOM) != mimi.message_id(bare, ALICE, ROOM)


def test_the_franking_tag_must_be_the_contents_under_its_salt() -> None:
    c = _content(model.Text("franked"))
    sealed = seal(c, MemoryIndex(), ALICE, ROOM)
    with pytest.raises(CryptoError):
        open_content(sealed.plaintext, secrets.token_bytes(32), MemoryIndex(), sender_uri=ALICE,
                     room_uri=ROOM, received_at=0)
    m = mimi.decode_content(sealed.plaintext)
    resalted = mimi.encode_content(dataclasses.replace(m, salt=secrets.token_bytes(16)))
    with pytest.raises(CryptoError):
        open_content(resalted, sealed.franking_tag, MemoryIndex(), sender_uri=ALICE,
                     room_uri=ROOM, received_at=0)
    # a message without frank_aad is not franked: nothing to check (a foreign client)
    assert _open(sealed).content == open_content(
        sealed.plaintext, None, MemoryIndex(), sender_uri=ALICE, room_uri=ROOM,
        received_at=1_700_000_000_500).content


def test_reports_recompute_the_tag_from_the_salt_inside() -> None:
    c = _content(model.Text("an abusive message"))
    sealed = seal(c, MemoryIndex(), ALICE, ROOM)
    assert check_report(sealed.plaintext, sealed.franking_tag).salt == c.message_id
    other_text = seal(dataclasses.replace(c, body=model.Text("nice")), MemoryIndex(), ALICE, ROOM)
    other_salt = seal(dataclasses.replace(c, header=dataclasses.replace(
        c.header, message_id=secrets.token_bytes(16))), MemoryIndex(), ALICE, ROOM)
    for forged in (other_text.plaintext, other_salt.plaintext):
        with pytest.raises(CryptoError):
            check_report(forged, sealed.franking_tag)
    with pytest.raises(DecodeError):
        check_report(b"\x00" + sealed.plaintext, sealed.franking_tag)


def test_unknown_parts_are_unsupported_and_dangling_references_have_no_effect() -> None:
    salt = secrets.token_bytes(16)
    ext = {1: ALICE, 2: ROOM, ACCORD_EXTENSION: {1: 5}}
    unknown = mimi.MimiContent(salt, None, b"", None, None, ext,
                               mimi.SinglePart(77, "", "application/x-unknown", b"\x00\x01"))
    data = mimi.encode_content(unknown)
    got = open_content(data, franking_tag(salt, data), MemoryIndex(), sender_uri=ALICE, room_uri=ROOM,
                       received_at=0).content
    assert isinstance(got, Unsupported) and "application/x-unknown" in got.summary
    edit = dataclasses.replace(unknown, replaces=b"\x01" + bytes(31),
                               body=mimi.SinglePart(1, "", "text/plain", b"edited"))
    data = mimi.encode_content(edit)
    got = open_content(data, franking_tag(salt, data), MemoryIndex(), sender_uri=ALICE, room_uri=ROOM,
                       received_at=0).content
    assert isinstance(got, NoEffect)


def test_an_expiry_more_than_a_year_away_is_refused() -> None:
    c = _content(model.Text("soon gone"), expires_after=60)
    sealed = seal(c, MemoryIndex(), ALICE, ROOM)
    assert _open(sealed).content == c
    with pytest.raises(ValidationError, match="a year"):
        open_content(sealed.plaintext, sealed.franking_tag, MemoryIndex(), sender_uri=ALICE,
                     room_uri=ROOM, received_at=c.header.sent_at + 2 * 366 * 86_400_000)


def test_bodies_over_the_limit_are_refused_both_ways() -> None:
    with pytest.raises(DecodeError, match="exceeds"):
        decode_body(b"\x00" * (MAX_BODY_BYTES + 1))
    with pytest.raises(DecodeError):
        decode_body("text")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(bodies)
def test_every_kind_round_trips_through_seal_and_open(body: model.BodyKinds) -> None:
    index = knowing(body)
    c = _content(body)
    assert _open(seal(c, index, ALICE, ROOM), index).content == c


def test_the_accord_extension_holds_only_sent_at_and_an_older_franking_key_is_ignored() -> None:
    c = _content(model.Text("no key inside"))
    sealed = seal(c, MemoryIndex(), ALICE, ROOM)
    m = mimi.decode_content(sealed.plaintext)
    assert m.extensions[ACCORD_EXTENSION] == {1: c.header.sent_at}  # franking needs no key
    # a content of an Accord that still sent its franking key (key 2) reads as before
    old = mimi.encode_content(dataclasses.replace(m, extensions=dict(
        m.extensions, **{ACCORD_EXTENSION: {1: c.header.sent_at, 2: bytes(32)}})))
    assert open_content(old, franking_tag(c.message_id, old), MemoryIndex(), sender_uri=ALICE,
                        room_uri=ROOM, received_at=0).content == c
