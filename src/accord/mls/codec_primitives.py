"""The building blocks of the MLS codec (``accord.mls.codec``): variable-length
integers (RFC 9420 2.1.2), the field markers a declaration uses (``Uint``,
``Fixed``, ``Variant``, ``When``, ``OneOf``), and the codecs of integers, fixed
and variable-size opaque data, vectors and optionals. Every decoder checks each
length against the bytes left and raises ``DecodeError``.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from accord.errors import DecodeError, ValidationError

Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[bytes, int], tuple[Any, int]]

MAX_VARINT = (1 << 30) - 1


# --------------------------------------------------------------------------
# Variable-length integers (RFC 9420 2.1.2)


def encode_varint(n: int, out: bytearray) -> None:
    if n < 0x40:
        out.append(n)
    elif n < 0x4000:
        out += (n | 0x4000).to_bytes(2, "big")
    elif n <= MAX_VARINT:
        out += (n | 0x80000000).to_bytes(4, "big")
    else:
        raise ValidationError(f"length {n} exceeds 2^30 - 1", "RFC 9420 2.1.2")


def decode_varint(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise DecodeError("truncated: expected a length header")
    first = buf[pos]
    prefix = first >> 6
    if prefix == 0:
        return first, pos + 1
    if prefix == 3:
        raise DecodeError("invalid variable-length integer prefix 0b11")
    size = 1 << prefix
    end = pos + size
    if end > len(buf):
        raise DecodeError("truncated length header")
    value = int.from_bytes(buf[pos:end], "big") & ((1 << (8 * size - 2)) - 1)
    if value < (1 << (8 * (size // 2) - 2)):
        raise DecodeError("length header does not use the minimum encoding")
    return value, end


def opaque(data: bytes) -> bytes:
    """``opaque x<V>`` of ``data``: its varint length, then the bytes."""
    out = bytearray()
    encode_varint(len(data), out)
    out += data
    return bytes(out)


# --------------------------------------------------------------------------
# Codec objects: a pair of functions plus the Python types the codec accepts


@dataclasses.dataclass(frozen=True, slots=True)
class Codec:
    enc: Encoder
    dec: Decoder
    py_types: tuple[type, ...]
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Uint:
    size: int


@dataclasses.dataclass(frozen=True, slots=True)
class Fixed:
    """``opaque x[n]``: exactly ``n`` bytes, no length header."""

    size: int


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Variant:
    """A tag of type ``tag`` then the body the tag selects.

    ``cases`` maps each tag value to a type hint (a ``@wire`` class, ``bytes``,
    or an alias that is itself a ``Variant``). An empty body is ``None``.
    """

    tag: Any
    cases: Mapping[int, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class When:
    """A field present only when the field at ``path`` has a value in ``values``."""

    path: str
    values: tuple[int, ...]
    hint: Any


class OneOf:
    """Restricts an integer field to known values: a ``select`` tag whose
    unknown values would leave the body's layout unknown. Use it beside a
    ``Uint``: ``Annotated[int, Uint(1), OneOf(1, 2, 3)]``."""

    __slots__ = ("values",)

    def __init__(self, *values: int) -> None:
        self.values = frozenset(values)


U8 = Annotated[int, Uint(1)]
U16 = Annotated[int, Uint(2)]
U32 = Annotated[int, Uint(4)]
U64 = Annotated[int, Uint(8)]


def uint_codec(size: int) -> Codec:
    fmt = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}[size]
    packer = struct.Struct(fmt)
    pack, unpack_from = packer.pack, packer.unpack_from
    limit = 1 << (8 * size)

    def enc(v: int, out: bytearray) -> None:
        if not 0 <= v < limit:
            raise ValidationError(f"{v} does not fit in uint{8 * size}", "RFC 9420 2.1")
        out += pack(v)

    def dec(buf: bytes, pos: int) -> tuple[int, int]:
        end = pos + size
        if end > len(buf):
            raise DecodeError(f"truncated: expected uint{8 * size}")
        return unpack_from(buf, pos)[0], end

    UINT_DECODERS[dec] = (size, fmt[1])
    return Codec(enc, dec, (int,), f"uint{8 * size}")


# Decoders of plain uintN codecs: a vector of them (capabilities, for
# example) is read with one struct.unpack_from instead of one call per item.
UINT_DECODERS: dict[Decoder, tuple[int, str]] = {}


def one_of_codec(inner: Codec, allowed: frozenset[int]) -> Codec:
    idec, ienc = inner.dec, inner.enc

    def enc(v: int, out: bytearray) -> None:
        if v not in allowed:
            raise ValidationError(f"{v} is not one of {sorted(allowed)}", "RFC 9420 2.1")
        ienc(v, out)

    def dec(buf: bytes, pos: int) -> tuple[int, int]:
        v, pos = idec(buf, pos)
        if v not in allowed:
            raise DecodeError(f"unknown value {v}; expected one of {sorted(allowed)}")
        return v, pos

    return Codec(enc, dec, inner.py_types, f"{inner.name} in {sorted(allowed)}")


def fixed_codec(size: int) -> Codec:
    def enc(v: bytes, out: bytearray) -> None:
        if len(v) != size:
            raise ValidationError(f"expected {size} bytes, got {len(v)}", "RFC 9420 2.1")
        out += v

    def dec(buf: bytes, pos: int) -> tuple[bytes, int]:
        end = pos + size
        if end > len(buf):
            raise DecodeError(f"truncated: expected {size} bytes")
        return buf[pos:end], end

    return Codec(enc, dec, (bytes,), f"opaque[{size}]")


def _enc_opaque(v: bytes, out: bytearray) -> None:
    n = len(v)
    if n < 0x40:
        out.append(n)
    else:
        encode_varint(n, out)
    out += v


def _dec_opaque(buf: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = decode_varint(buf, pos)
    end = pos + n
    if end > len(buf):
        raise DecodeError(f"truncated: vector of {n} bytes, {len(buf) - pos} left")
    return buf[pos:end], end


OPAQUE = Codec(_enc_opaque, _dec_opaque, (bytes, bytearray), "opaque<V>")


def vector_codec(item: Codec) -> Codec:
    ienc, idec = item.enc, item.dec

    def enc(v: tuple[Any, ...], out: bytearray) -> None:
        body = bytearray()
        for x in v:
            ienc(x, body)
        encode_varint(len(body), out)
        out += body

    uint = UINT_DECODERS.get(idec)
    if uint is not None:
        size, char = uint

        def dec_uints(buf: bytes, pos: int) -> tuple[tuple[Any, ...], int]:
            n, pos = decode_varint(buf, pos)
            end = pos + n
            if end > len(buf):
                raise DecodeError(f"truncated: vector of {n} bytes, {len(buf) - pos} left")
            if n % size:
                raise DecodeError("a vector element runs past the end of its vector")
            return struct.unpack_from(f">{n // size}{char}", buf, pos), end

        return Codec(enc, dec_uints, (tuple, list), f"{item.name}<V>")

    def dec(buf: bytes, pos: int) -> tuple[tuple[Any, ...], int]:
        n, pos = decode_varint(buf, pos)
        end = pos + n
        if end > len(buf):
            raise DecodeError(f"truncated: vector of {n} bytes, {len(buf) - pos} left")
        items = []
        while pos < end:
            x, pos = idec(buf, pos)
            items.append(x)
        # An element that runs past the vector's own length is malformed.
        if pos != end:
            raise DecodeError("a vector element runs past the end of its vector")
        return tuple(items), pos

    return Codec(enc, dec, (tuple, list), f"{item.name}<V>")


def optional_codec(item: Codec) -> Codec:
    ienc, idec = item.enc, item.dec

    def enc(v: Any, out: bytearray) -> None:
        if v is None:
            out.append(0)
        else:
            out.append(1)
            ienc(v, out)

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos >= len(buf):
            raise DecodeError("truncated: expected an optional presence octet")
        present = buf[pos]
        if present == 0:
            return None, pos + 1
        if present != 1:
            raise DecodeError(f"optional presence octet is {present}, not 0 or 1")
        return idec(buf, pos + 1)

    return Codec(enc, dec, item.py_types + (type(None),), f"optional<{item.name}>")
