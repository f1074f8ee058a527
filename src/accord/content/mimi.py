"""MIMI content (draft-ietf-mimi-content-08): the container, its codec, message IDs.

One declaration per structure: each array below is a table of fields, and
that table drives both ``encode_content`` and ``decode_content``. The bytes
are deterministic CBOR (``accord.content.cbor``, draft section 6.1), so
``encode_content(decode_content(b)) == b`` for every input accepted.

Decoding is strict and every failure is a ``DecodeError``: the CDDL of
Appendix A (types, sizes, at least two parts in a MultiPart) and the
nonsensical values that section 9.1 says to discard (an unknown hash
algorithm in a referenced message ID, a topicId over 4096 octets, more than
1024 parts, parts nested more than 4 levels, an unknown PartSemantics). What
9.1 calls legitimate is kept and left to the reader to render: an unknown
disposition (``effective_disposition`` reads it as ``render``), an unknown
content type or language, an unknown extension (kept, so the message re-encodes
byte for byte and its message ID holds). Checks that need the time
(``check_expiry``) take ``now`` as an argument.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import Any

from accord.content import cbor
from accord.errors import DecodeError, ValidationError

__all__ = [
    "HASH_SHA256",
    "ROOM_URI",
    "SENDER_URI",
    "Cardinality",
    "Disposition",
    "Expiration",
    "ExternalPart",
    "MimiContent",
    "MultiPart",
    "NestedPart",
    "NullPart",
    "PartSemantics",
    "SinglePart",
    "check_expiry",
    "check_origin",
    "decode_content",
    "effective_disposition",
    "encode_content",
    "message_id",
    "part_by_cid",
    "parts_in_order",
]

DRAFT = "draft-ietf-mimi-content-08"
HASH_SHA256 = 1  # IANA Named Information Hash Algorithm registry
SALT_BYTES = 16
MESSAGE_ID_BYTES = 32
MAX_TOPIC_BYTES = 4096  # section 9.1
MAX_PARTS = 1024  # section 9.1
MAX_NESTING = 4  # section 6.3: the body itself is level 1
MAX_EXTENSION_DEPTH = 4  # section 6.3: the extensions map is level 1
MAX_EXTENSION_VALUE_BYTES = 4095  # section 4.3
SENDER_URI = 1  # section 8.2.1, extension keys
ROOM_URI = 2
YEAR_SECONDS = 366 * 24 * 3600


class Disposition(IntEnum):
    """Section 8.2.2, the MIMI Content Disposition registry."""

    UNSPECIFIED = 0
    RENDER = 1
    REACTION = 2
    PROFILE = 3
    INLINE = 4
    ICON = 5
    ATTACHMENT = 6
    SESSION = 7
    PREVIEW = 8


class Cardinality(IntEnum):
    NULL = 0
    SINGLE = 1
    EXTERNAL = 2
    MULTI = 3


class PartSemantics(IntEnum):
    CHOOSE_ONE = 0  # like multipart/alternative, the receiver picks one
    SINGLE_UNIT = 1  # like multipart/related
    PROCESS_ALL = 2  # like multipart/mixed


def effective_disposition(value: int) -> int:
    """Section 9.1: an unknown disposition is treated as if it were ``render``."""
    return value if value in Disposition._value2member_map_ else Disposition.RENDER


@dataclasses.dataclass(frozen=True, slots=True)
class Expiration:
    relative: bool  # seconds after reading; else seconds since the Unix epoch
    time: int


@dataclasses.dataclass(frozen=True, slots=True)
class NullPart:
    disposition: int = Disposition.RENDER
    language: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class SinglePart:
    disposition: int
    language: str
    content_type: str
    content: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class ExternalPart:
    disposition: int
    language: str
    content_type: str
    url: str
    expires: int  # seconds since the epoch; 0 = never
    size: int  # octets; 0 = not given
    enc_alg: int  # IANA AEAD registry; 0 = not encrypted
    key: bytes
    nonce: bytes
    aad: bytes
    hash_alg: int  # IANA Named Information hash registry
    content_hash: bytes
    description: str
    filename: str

    def __repr__(self) -> str:  # never print the key
        return f"ExternalPart(url={self.url!r}, content_type={self.content_type!r}, size={self.size})"


@dataclasses.dataclass(frozen=True, slots=True)
class MultiPart:
    disposition: int
    language: str
    semantics: int
    parts: tuple[NestedPart, ...]


NestedPart = NullPart | SinglePart | ExternalPart | MultiPart


@dataclasses.dataclass(frozen=True, slots=True)
class MimiContent:
    salt: bytes
    replaces: bytes | None
    topic_id: bytes
    expires: Expiration | None
    in_reply_to: bytes | None
    extensions: dict[int | str, Any]
    body: NestedPart

    @property
    def sender_uri(self) -> str | None:
        value = self.extensions.get(SENDER_URI)
        return value if isinstance(value, str) else None

    @property
    def room_uri(self) -> str | None:
        value = self.extensions.get(ROOM_URI)
        return value if isinstance(value, str) else None


# --- field checks: (CBOR value, field name) -> Python value, or DecodeError -------------

Check = Callable[[Any, str], Any]


def _fail(what: str, name: str) -> DecodeError:
    return DecodeError(f"MIMI content: {name} {what} ({DRAFT} Appendix A)")


def _bstr(value: Any, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise _fail("is not a byte string", name)
    return value


def _tstr(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _fail("is not a text string", name)
    return value


def _uint(octets: int) -> Check:
    def check(value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << (8 * octets):
            raise _fail(f"is not an unsigned integer of {octets} octets", name)
        return int(value)

    return check


def _salt(value: Any, name: str) -> bytes:
    if len(_bstr(value, name)) != SALT_BYTES:
        raise _fail(f"is not {SALT_BYTES} octets", name)
    return value  # type: ignore[no-any-return]


def _message_id(value: Any, name: str) -> bytes | None:
    if value is None:
        return None
    if len(_bstr(value, name)) != MESSAGE_ID_BYTES:
        raise _fail(f"is not a {MESSAGE_ID_BYTES}-octet message ID", name)
    if value[0] != HASH_SHA256:
        # Section 9.1: an unknown hash algorithm in a message ID is discarded.
        raise DecodeError(f"MIMI content: {name} uses unknown hash algorithm {value[0]} ({DRAFT} 9.1)")
    return value  # type: ignore[no-any-return]


def _topic(value: Any, name: str) -> bytes:
    if len(_bstr(value, name)) > MAX_TOPIC_BYTES:
        raise DecodeError(f"MIMI content: topicId over {MAX_TOPIC_BYTES} octets ({DRAFT} 9.1)")
    return value  # type: ignore[no-any-return]


def _expiration(value: Any, name: str) -> Expiration | None:
    if value is None:
        return None
    if not isinstance(value, tuple) or len(value) != 2 or not isinstance(value[0], bool):
        raise _fail("is not [relative: bool, time: uint .size 4]", name)
    return Expiration(value[0], _uint(4)(value[1], name))


_LANGUAGE = re.compile(r"[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*")


def _language(value: Any, name: str) -> str:
    # Section 4.4: empty, or a comma-separated list of RFC 5646 Language-tags; only the
    # syntax of subtags is checked, an unknown tag is legitimate (9.1).
    if _tstr(value, name) and not all(_LANGUAGE.fullmatch(t.strip()) for t in value.split(",")):
        raise _fail("is not a list of language tags", name)
    return value  # type: ignore[no-any-return]


def _depth(value: Any) -> int:
    """Levels of tags, maps and arrays in ``value`` (0 for a scalar)."""
    if isinstance(value, tuple | list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, cbor.Tag):
        return 1 + _depth(value.value)
    return 0


def _extensions(value: Any, name: str) -> dict[int | str, Any]:
    if not isinstance(value, dict):
        raise _fail("is not a map", name)
    for key in value:
        if key == 0 or isinstance(key, bytes) or (isinstance(key, str) and not 1 <= len(key.encode()) <= 255):
            raise _fail(f"has a key that is reserved or not int / tstr .size (1..255): {key!r}", name)
    for key in (SENDER_URI, ROOM_URI):
        if key in value:
            _tstr(value[key], f"extension {key}")
    for key, item in value.items():
        # Section 4.3: value = any .size (0..4095), the encoded value.
        if len(cbor.encode(item)) > MAX_EXTENSION_VALUE_BYTES:
            raise DecodeError(f"MIMI content: extension {key!r} over {MAX_EXTENSION_VALUE_BYTES} "
                              f"octets ({DRAFT} 4.3)")
    if _depth(value) > MAX_EXTENSION_DEPTH:
        raise DecodeError(f"MIMI content: extensions nested more than {MAX_EXTENSION_DEPTH} levels ({DRAFT} 6.3)")
    return value


# --- the part layouts, one table each ---------------------------------------------------

_SINGLE: tuple[tuple[str, Check], ...] = (("content_type", _tstr), ("content", _bstr))
_EXTERNAL: tuple[tuple[str, Check], ...] = (
    ("content_type", _tstr),
    ("url", _tstr),
    ("expires", _uint(4)),
    ("size", _uint(8)),
    ("enc_alg", _uint(2)),
    ("key", _bstr),
    ("nonce", _bstr),
    ("aad", _bstr),
    ("hash_alg", _uint(1)),
    ("content_hash", _bstr),
    ("description", _tstr),
    ("filename", _tstr),
)


class _PartReader:
    """Decodes one body, counting parts (9.1) and levels (6.3) as it goes."""

    def __init__(self) -> None:
        self.parts = 0

    def part(self, value: Any, level: int) -> NestedPart:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise DecodeError(f"MIMI content: more than {MAX_PARTS} body parts ({DRAFT} 9.1)")
        if level > MAX_NESTING:
            raise DecodeError(f"MIMI content: parts nested more than {MAX_NESTING} levels ({DRAFT} 6.3)")
        if not isinstance(value, tuple) or len(value) < 3:
            raise _fail("is not [disposition, language, cardinality, ...]", "NestedPart")
        disposition = _uint(1)(value[0], "disposition")
        language = _language(value[1], "language")
        cardinality, rest = value[2], value[3:]
        if isinstance(cardinality, bool):
            raise _fail("is not an integer", "cardinality")
        if cardinality == Cardinality.NULL:
            _arity(rest, 0, "NullPart")
            return NullPart(disposition, language)
        if cardinality == Cardinality.SINGLE:
            return SinglePart(disposition, language, *_fields(_SINGLE, rest, "SinglePart"))
        if cardinality == Cardinality.EXTERNAL:
            return ExternalPart(disposition, language, *_fields(_EXTERNAL, rest, "ExternalPart"))
        if cardinality == Cardinality.MULTI:
            _arity(rest, 2, "MultiPart")
            semantics = rest[0]
            if isinstance(semantics, bool) or semantics not in PartSemantics._value2member_map_:
                raise DecodeError(f"MIMI content: unknown partSemantics {semantics!r} ({DRAFT} 9.1)")
            children = rest[1]
            if not isinstance(children, tuple) or len(children) < 2:
                raise _fail("is not an array of at least two parts", "parts")
            return MultiPart(disposition, language, semantics,
                             tuple(self.part(c, level + 1) for c in children))
        raise _fail(f"is unknown: {cardinality!r}", "cardinality")


def _arity(rest: tuple[Any, ...], n: int, name: str) -> None:
    if len(rest) != n:
        raise _fail(f"has {len(rest)} fields after its cardinality, not {n}", name)


def _fields(layout: tuple[tuple[str, Check], ...], rest: tuple[Any, ...], name: str) -> list[Any]:
    _arity(rest, len(layout), name)
    return [check(v, field) for (field, check), v in zip(layout, rest, strict=True)]


def _part_array(part: NestedPart) -> tuple[Any, ...]:
    head = (part.disposition, part.language)
    if isinstance(part, NullPart):
        return (*head, Cardinality.NULL.value)
    if isinstance(part, SinglePart):
        return (*head, Cardinality.SINGLE.value, *(getattr(part, f) for f, _ in _SINGLE))
    if isinstance(part, ExternalPart):
        return (*head, Cardinality.EXTERNAL.value, *(getattr(part, f) for f, _ in _EXTERNAL))
    return (*head, Cardinality.MULTI.value, part.semantics, tuple(_part_array(p) for p in part.parts))


# --- the container ----------------------------------------------------------------------

_CONTENT: tuple[tuple[str, Check], ...] = (
    ("salt", _salt),
    ("replaces", _message_id),
    ("topic_id", _topic),
    ("expires", _expiration),
    ("in_reply_to", _message_id),
    ("extensions", _extensions),
)


def decode_content(data: bytes) -> MimiContent:
    """Strictly decode one ``application/mimi-content`` document."""
    value = cbor.decode(data)
    if not isinstance(value, tuple) or len(value) != len(_CONTENT) + 1:
        raise _fail("is not an array of 7 items", "mimiContent")
    fields = {name: check(v, name) for (name, check), v in zip(_CONTENT, value, strict=False)}
    return MimiContent(**fields, body=_PartReader().part(value[-1], 1))


def _wire(value: Any) -> Any:
    return (value.relative, value.time) if isinstance(value, Expiration) else value


def encode_content(content: MimiContent) -> bytes:
    """The deterministic encoding; what the decoder would refuse is never produced."""
    array = (*(_wire(getattr(content, name)) for name, _ in _CONTENT), _part_array(content.body))
    data = cbor.encode(array)
    try:
        decode_content(data)
    except DecodeError as exc:
        raise ValidationError(str(exc), DRAFT) from None
    return data


def message_id(encoded: bytes, sender_uri: str, room_uri: str) -> bytes:
    """Section 3.3: 0x01 || SHA-256(len16 || sender || len16 || room || message || salt)[0..30]."""
    salt = decode_content(encoded).salt
    hash_input = bytearray()
    for uri in (sender_uri, room_uri):
        raw = uri.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise ValidationError("a URI longer than 65535 octets", f"{DRAFT} 3.3")
        hash_input += len(raw).to_bytes(2, "big") + raw
    digest = hashlib.sha256(bytes(hash_input) + encoded + salt).digest()
    return bytes([HASH_SHA256]) + digest[: MESSAGE_ID_BYTES - 1]


def parts_in_order(body: NestedPart) -> Iterator[NestedPart]:
    """Every part, depth first: the n-th is the part with partIndex n (section 4.4)."""
    yield body
    if isinstance(body, MultiPart):
        for part in body.parts:
            yield from parts_in_order(part)


_CID = re.compile(r"cid:(0|[1-9][0-9]{0,3})@local\.invalid")


def part_by_cid(body: NestedPart, uri: str) -> SinglePart | ExternalPart:
    """The part a ``cid:N@local.invalid`` URI names; only single and external parts."""
    match = _CID.fullmatch(uri)
    if match is None:
        raise ValidationError(f"not a MIMI part reference: {uri!r}", f"{DRAFT} 4.4")
    index = int(match.group(1))
    for i, part in enumerate(parts_in_order(body)):
        if i == index:
            if isinstance(part, SinglePart | ExternalPart):
                return part
            break
    raise ValidationError(f"partIndex {index} is not a single or external part", f"{DRAFT} 4.4")


def check_expiry(expires: Expiration | None, now_ms: int) -> None:
    """Section 9.1: an expiry over a year away (or, absolute, a year past) is discarded."""
    if expires is None:
        return
    now = now_ms // 1000
    if expires.relative:
        late = expires.time > YEAR_SECONDS
        early = False
    else:
        late = expires.time > now + YEAR_SECONDS
        early = expires.time < now - YEAR_SECONDS
    if late or early:
        raise ValidationError("expiry more than a year away", f"{DRAFT} 9.1")


def check_origin(content: MimiContent, sender_uri: str, room_uri: str) -> None:
    """Section 9.1: the sender and room a content names (extensions 1 and 2) are the
    ones MLS authenticated; the message ID is computed from the authenticated ones."""
    if content.sender_uri not in (None, sender_uri) or content.room_uri not in (None, room_uri):
        raise ValidationError("the content names another sender or room than MLS authenticated",
                              f"{DRAFT} 9.1")
