"""The MIMI content codec (draft-ietf-mimi-content-08): strict decoding, round trips,
part indexes, and the unknown values the draft says to keep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from accord.content import cbor, mimi
from accord.errors import DecodeError, ValidationError

from .strategies import mimi_contents as _contents

EXAMPLES = Path(__file__).parents[1] / "vectors" / "mimi-content"
SALT = bytes(range(16))
MID = b"\x01" + bytes(31)
TEXT = (1, "", 1, "text/plain;charset=utf-8", b"hi")


def _doc(**changes: Any) -> bytes:
    """A document as a raw array, with some items replaced, encoded without checks."""
    items = {"salt": SALT, "replaces": None, "topic": b"", "expires": None, "reply": None,
             "ext": {1: "mimi://a.example/u/alice", 2: "mimi://a.example/r/r1"}, "body": TEXT}
    items.update(changes)
    return cbor.encode(tuple(items.values()))


def test_a_document_decodes() -> None:
    content = mimi.decode_content(_doc())
    assert content.body == mimi.SinglePart(1, "", "text/plain;charset=utf-8", b"hi")
    assert content.sender_uri == "mimi://a.example/u/alice"
    assert mimi.encode_content(content) == _doc()


def _nest(levels: int) -> tuple[Any, ...]:
    part: tuple[Any, ...] = TEXT
    for _ in range(levels - 1):
        part = (1, "", 3, 2, (part, TEXT))
    return part


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"salt": bytes(15)}, "salt is not 16 octets"),
        ({"replaces": bytes(32)}, "unknown hash algorithm 0"),  # 9.1
        ({"reply": b"\x02" + bytes(31)}, "unknown hash algorithm 2"),
        ({"reply": MID[:31]}, "32-octet message ID"),
        ({"topic": bytes(4097)}, "topicId over 4096"),  # 9.1
        ({"expires": (1, 5)}, "relative: bool"),
        ({"expires": (False, 1 << 32)}, "4 octets"),
        ({"ext": {0: "x"}}, "reserved"),
        ({"ext": {"": 1}}, "reserved"),
        ({"ext": {"k" * 256: 1}}, "reserved"),
        ({"ext": {b"k": 1}}, "reserved"),
        ({"ext": {1: b"not text"}}, "extension 1 is not a text string"),
        ({"ext": {-7: ((((1,),),),)}}, "extensions nested more than 4"),  # 6.3
        ({"ext": {-7: bytes(4093)}}, "extension -7 over 4095 octets"),  # 4.3
        ({"body": _nest(5)}, "nested more than 4 levels"),  # 6.3
        ({"body": (1, "", 3, 2, tuple([TEXT] * 1024))}, "more than 1024 body parts"),  # 9.1
        ({"body": (1, "", 3, 3, (TEXT, TEXT))}, "unknown partSemantics 3"),  # 9.1
        ({"body": (1, "", 3, 2, (TEXT,))}, "at least two parts"),
        ({"body": (1, "", 4)}, "cardinality is unknown"),
        ({"body": (1, "", True)}, "cardinality is not an integer"),
        ({"body": (1, "", 0, "extra")}, "NullPart has 1 fields"),
        ({"body": (256, "", 0)}, "disposition is not an unsigned integer of 1"),
        ({"body": (1, "en_US", 0)}, "language is not a list"),
        ({"body": (1, "", 1, "text/plain", "text, not bytes")}, "content is not a byte string"),
        ({"body": (6, "", 2, "video/mp4", "u", 0, 1 << 40)}, "ExternalPart has 4 fields"),
        ({"body": (6, "", 2, "v", "u", 1 << 32, 0, 0, b"", b"", b"", 0, b"", "", "")},
         "expires is not an unsigned integer of 4"),
    ],
)
def test_malformed_documents_are_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        mimi.decode_content(_doc(**changes))


def test_deepest_allowed_nesting_and_most_parts_decode() -> None:
    mimi.decode_content(_doc(body=_nest(4)))
    mimi.decode_content(_doc(body=(1, "", 3, 2, tuple([TEXT] * 1023))))
    mimi.decode_content(_doc(ext={-7: (((1,),),)}))
    mimi.decode_content(_doc(ext={-7: bytes(4092)}))  # 3 + 4092 octets encoded


def test_the_encoder_never_produces_what_the_decoder_refuses() -> None:
    content = mimi.decode_content(_doc())
    bad = mimi.MimiContent(bytes(3), None, b"", None, None, {}, content.body)
    with pytest.raises(ValidationError, match="salt is not 16 octets"):
        mimi.encode_content(bad)


def test_unknown_dispositions_and_extensions_are_kept_and_read_as_render() -> None:
    # Section 9.1: legitimate, so kept (the message re-encodes, its ID holds).
    data = _doc(ext={1: "u", 2: "r", 77: {"any": (1, 2.5)}, "x-vendor": True},
                body=(200, "fr,en-GB", 1, "application/x-unknown", b"\x00"))
    content = mimi.decode_content(data)
    assert content.body.disposition == 200
    assert mimi.effective_disposition(200) == mimi.Disposition.RENDER
    assert mimi.effective_disposition(2) == mimi.Disposition.REACTION
    assert content.extensions[77] == {"any": (1, 2.5)}
    assert mimi.encode_content(content) == data


def test_message_id_depends_on_sender_room_and_every_byte() -> None:
    data = _doc()
    base = mimi.message_id(data, "mimi://a.example/u/alice", "mimi://a.example/r/r1")
    assert base[0] == mimi.HASH_SHA256 and len(base) == 32
    assert mimi.message_id(data, "mimi://a.example/u/bob", "mimi://a.example/r/r1") != base
    assert mimi.message_id(data, "mimi://a.example/u/alice", "mimi://a.example/r/r2") != base
    assert mimi.message_id(_doc(topic=b"t"), "mimi://a.example/u/alice",
                           "mimi://a.example/r/r1") != base
    # The length prefixes separate the URIs: moving a character across them changes the ID.
    assert mimi.message_id(data, "ab", "c") != mimi.message_id(data, "a", "bc")


def test_part_index_is_depth_first_and_cid_names_only_leaf_parts() -> None:
    data = (EXAMPLES / "multipart-1.cbor").read_bytes()
    body = mimi.decode_content(data).body
    parts = list(mimi.parts_in_order(body))
    assert len(parts) == 3 and isinstance(parts[0], mimi.MultiPart)
    assert mimi.part_by_cid(body, "cid:1@local.invalid").content == b"# Welcome!"
    assert mimi.part_by_cid(body, "cid:2@local.invalid") is parts[2]
    for bad in ("cid:0@local.invalid", "cid:3@local.invalid", "cid:01@local.invalid", "cid:1"):
        with pytest.raises(ValidationError):
            mimi.part_by_cid(body, bad)


def test_expiry_more_than_a_year_away_is_refused() -> None:
    now_ms = 1_700_000_000_000
    mimi.check_expiry(None, now_ms)
    mimi.check_expiry(mimi.Expiration(True, 3600), now_ms)
    mimi.check_expiry(mimi.Expiration(False, now_ms // 1000 + 60), now_ms)
    for exp in (mimi.Expiration(True, mimi.YEAR_SECONDS + 1),
                mimi.Expiration(False, now_ms // 1000 + mimi.YEAR_SECONDS + 1),
                mimi.Expiration(False, now_ms // 1000 - mimi.YEAR_SECONDS - 1)):
        with pytest.raises(ValidationError, match="a year away"):
            mimi.check_expiry(exp, now_ms)


def test_the_key_of_an_external_part_is_never_printed() -> None:
    data = (EXAMPLES / "attachment.cbor").read_bytes()
    body = mimi.decode_content(data).body
    assert isinstance(body, mimi.ExternalPart)
    assert body.key.hex() not in repr(body) and "21399320" not in repr(body)


@given(_contents)
def test_every_content_round_trips(content: mimi.MimiContent) -> None:
    data = mimi.encode_content(content)
    assert mimi.decode_content(data) == content
    assert mimi.encode_content(mimi.decode_content(data)) == data


def test_the_named_sender_and_room_must_be_the_authenticated_ones() -> None:
    content = mimi.decode_content(_doc())
    mimi.check_origin(content, "mimi://a.example/u/alice", "mimi://a.example/r/r1")
    with pytest.raises(ValidationError, match="another sender or room"):
        mimi.check_origin(content, "mimi://b.example/u/mallory", "mimi://a.example/r/r1")
    with pytest.raises(ValidationError, match="another sender or room"):
        mimi.check_origin(content, "mimi://a.example/u/alice", "mimi://a.example/r/r2")
    unnamed = mimi.decode_content(_doc(ext={}))
    mimi.check_origin(unnamed, "mimi://b.example/u/anyone", "mimi://b.example/r/any")


# The pretty-printed CBOR of the draft's sections 5.8 (Expiring) and 5.10 (Conferencing),
# whose example files are not in the reference copy (no message ID is stated for them).
DRAFT_HEX = {
    "expiring": (
        "875033be993eb39f418f9295afc2ae160d2df64082f41a62036674f6a20178206d696d693a2f2f6578616d70"
        "6c652e636f6d2f752f616c6963652d736d6974680278256d696d693a2f2f6578616d706c652e636f6d2f722f"
        "656e67696e656572696e675f7465616d85016001781e746578742f6d61726b646f776e3b76617269616e743d"
        "47464d2d4d494d4958505f5f2a56504e20474f494e4720444f574e2a5f5f2049276d207265626f6f74696e67"
        "207468652056504e20696e2074656e206d696e7574657320756e6c65737320616e796f6e65206f626a656374"
        "732e"
    ),
    "conferencing": (
        "8750678ac6cd54de049c3e9665cd212470faf647466f6f20313138f6f6a20178206d696d693a2f2f6578616d"
        "706c652e636f6d2f752f616c6963652d736d6974680278256d696d693a2f2f6578616d706c652e636f6d2f72"
        "2f656e67696e656572696e675f7465616d8f07600260781e68747470733a2f2f6578616d706c652e636f6d2f"
        "6a6f696e2f31323334350000004040400040781b4a6f696e2074686520466f6f2031313820636f6e66657265"
        "6e636560"
    ),
}


@pytest.mark.parametrize("name", sorted(DRAFT_HEX))
def test_the_drafts_other_examples_round_trip(name: str) -> None:
    data = bytes.fromhex(DRAFT_HEX[name])
    content = mimi.decode_content(data)
    assert mimi.encode_content(content) == data
    if name == "expiring":
        assert content.expires == mimi.Expiration(False, 1644390004)
    else:
        assert content.topic_id == b"Foo 118"
        assert isinstance(content.body, mimi.ExternalPart)
        assert content.body.disposition == mimi.Disposition.SESSION
        assert content.body.url == "https://example.com/join/12345"
