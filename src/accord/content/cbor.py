"""Deterministic CBOR (RFC 8949 4.2.1) for MIMI content, strict both ways.

draft-ietf-mimi-content-08 section 6.1 requires the core deterministic
encoding: shortest integer and length arguments, no indefinite lengths, map
keys in the bytewise lexicographic order of their encodings, and never the
length-first "canonical" order of RFC 7049. The ``cbor2`` package sorts maps
length-first in its canonical mode and accepts non-shortest encodings when
decoding, so it can neither produce nor police these bytes; this module is
the small codec the draft needs instead.

``decode`` accepts exactly the bytes ``encode`` produces: any other form of
the same value (a long integer argument, an indefinite length, an unsorted
or repeated map key, a float wider than needed, a NaN other than 0xf97e00,
invalid UTF-8, a trailing byte) is a ``DecodeError``. So for every accepted
input ``encode(decode(data)) == data``.

Values: ``int``, ``bytes``, ``str``, ``bool``, ``None``, ``float``, ``tuple``
(arrays; ``list`` is accepted when encoding), ``dict`` (maps, keys ``int``,
``str`` or ``bytes`` only, section 6.2) and ``Tag``.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from typing import Any

from accord.errors import DecodeError, ValidationError

__all__ = ["MAX_DEPTH", "MAX_KEY_INT", "Tag", "decode", "encode", "encode_key"]

# Containers nested deeper than this are refused before recursion goes on;
# MIMI's own limits (four levels, section 6.3) are checked by its decoder.
MAX_DEPTH = 16
# Section 6.2: integer keys fit a double without loss.
MAX_KEY_INT = (1 << 53) - 1
_MAX_ARG = (1 << 64) - 1
_CANONICAL_NAN = b"\xf9\x7e\x00"
# RFC 8949 3.4.3: bignums. The draft makes them optional; Accord does not take them,
# so an integer always has exactly one encoding.
_BIGNUM_TAGS = (2, 3)


@dataclasses.dataclass(frozen=True, slots=True)
class Tag:
    """A tagged data item (RFC 8949 3.4)."""

    tag: int
    value: Any


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | ai]) + arg.to_bytes(size, "big")
    raise ValidationError("integer does not fit 64 bits", "RFC 8949 3.1")


def _float(value: float) -> bytes:
    if math.isnan(value):
        return _CANONICAL_NAN
    for prefix, fmt in ((0xF9, ">e"), (0xFA, ">f")):
        try:
            packed = struct.pack(fmt, value)
        except OverflowError:
            continue
        if struct.unpack(fmt, packed)[0] == value:
            return bytes([prefix]) + packed
    return b"\xfb" + struct.pack(">d", value)


def encode_key(key: Any) -> bytes:
    if isinstance(key, bool) or not isinstance(key, int | str | bytes):
        raise ValidationError("a map key is an integer, a text or a byte string",
                              "draft-ietf-mimi-content-08 6.2")
    if isinstance(key, int) and not -MAX_KEY_INT <= key <= MAX_KEY_INT:
        raise ValidationError("an integer map key exceeds 2^53-1", "draft-ietf-mimi-content-08 6.2")
    return encode(key)


def encode(value: Any) -> bytes:
    """The deterministic encoding of ``value``."""
    out = bytearray()
    _encode(value, out, 0)
    return bytes(out)


def _encode(value: Any, out: bytearray, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValidationError(f"CBOR nested deeper than {MAX_DEPTH}")
    if value is None:
        out += b"\xf6"
    elif isinstance(value, bool):
        out += b"\xf5" if value else b"\xf4"
    elif isinstance(value, int):
        out += _head(0, value) if value >= 0 else _head(1, -1 - value)
    elif isinstance(value, bytes):
        out += _head(2, len(value)) + value
    elif isinstance(value, str):
        data = value.encode("utf-8")  # a lone surrogate raises: never invalid UTF-8 out
        out += _head(3, len(data)) + data
    elif isinstance(value, tuple | list):
        out += _head(4, len(value))
        for item in value:
            _encode(item, out, depth + 1)
    elif isinstance(value, dict):
        entries = sorted((encode_key(k), v) for k, v in value.items())
        out += _head(5, len(entries))
        for key, item in entries:
            out += key
            _encode(item, out, depth + 1)
    elif isinstance(value, Tag):
        if value.tag in _BIGNUM_TAGS:
            raise ValidationError("bignums are not used", "draft-ietf-mimi-content-08 6.1")
        out += _head(6, value.tag)
        _encode(value.value, out, depth + 1)
    elif isinstance(value, float):
        out += _float(value)
    else:
        raise ValidationError(f"no CBOR encoding for {type(value).__name__}")


def decode(data: bytes) -> Any:
    """Strictly decode one data item that fills ``data`` exactly."""
    reader = _Reader(bytes(data))
    value = reader.item(0)
    if reader.pos != len(reader.data):
        raise DecodeError(f"{len(reader.data) - reader.pos} bytes after the CBOR item")
    return value


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise DecodeError("CBOR item runs past the end of the input")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def head(self) -> tuple[int, int, int]:
        """(major type, additional information, argument), shortest form enforced."""
        initial = self.take(1)[0]
        major, ai = initial >> 5, initial & 0x1F
        if ai < 24 or major == 7:
            return major, ai, ai
        if ai > 27:
            raise DecodeError("indefinite length or reserved additional information")
        size = 1 << (ai - 24)
        arg = int.from_bytes(self.take(size), "big")
        if arg < (24 if size == 1 else 1 << (4 * size)):
            raise DecodeError("integer or length not in its shortest form (RFC 8949 4.2.1)")
        return major, ai, arg

    def item(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise DecodeError(f"CBOR nested deeper than {MAX_DEPTH}")
        start = self.pos
        major, ai, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self.take(arg)
        if major == 3:
            try:
                return self.take(arg).decode("utf-8")
            except UnicodeDecodeError:
                raise DecodeError("text string is not valid UTF-8") from None
        if major == 4:
            if arg > len(self.data) - self.pos:
                raise DecodeError("array longer than the input")
            return tuple(self.item(depth + 1) for _ in range(arg))
        if major == 5:
            return self.map(arg, depth)
        if major == 6:
            if arg in _BIGNUM_TAGS:
                raise DecodeError("bignums are not used (draft-ietf-mimi-content-08 6.1)")
            return Tag(arg, self.item(depth + 1))
        return self.simple(ai, start)

    def map(self, count: int, depth: int) -> dict[Any, Any]:
        if 2 * count > len(self.data) - self.pos:
            raise DecodeError("map longer than the input")
        result: dict[Any, Any] = {}
        previous = b""
        for _ in range(count):
            start = self.pos
            key = self.item(depth + 1)
            encoded = self.data[start : self.pos]
            if isinstance(key, bool) or not isinstance(key, int | str | bytes):
                raise DecodeError("a map key is an integer, a text or a byte string "
                                  "(draft-ietf-mimi-content-08 6.2)")
            if isinstance(key, int) and not -MAX_KEY_INT <= key <= MAX_KEY_INT:
                raise DecodeError("an integer map key exceeds 2^53-1 (draft-ietf-mimi-content-08 6.2)")
            if encoded <= previous:
                raise DecodeError("map keys repeated or not in bytewise order (RFC 8949 4.2.1)")
            previous = encoded
            result[key] = self.item(depth + 1)
        return result

    def simple(self, ai: int, start: int) -> Any:
        if ai == 20:
            return False
        if ai == 21:
            return True
        if ai == 22:
            return None
        if ai in (25, 26, 27):
            size = 1 << (ai - 24)
            raw = self.take(size)
            value = struct.unpack({2: ">e", 4: ">f", 8: ">d"}[size], raw)[0]
            if _float(value) != self.data[start : self.pos]:
                raise DecodeError("float not in its shortest form, or a non-canonical NaN "
                                  "(draft-ietf-mimi-content-08 6.2)")
            return value
        raise DecodeError(f"simple value {ai} is not used")
