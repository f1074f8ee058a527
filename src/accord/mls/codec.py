"""The TLS presentation language of RFC 9420 section 2.1, as one declarative codec.

A wire structure is declared once, as a frozen dataclass whose type hints say
how each field goes on the wire; the same declaration drives encoding and
decoding::

    @wire
    class HPKECiphertext:
        kem_output: bytes        # opaque kem_output<V>
        ciphertext: bytes        # opaque ciphertext<V>

How a hint maps to the wire:

- ``bytes``: ``opaque x<V>`` (variable-size length header, section 2.1.2);
  ``Annotated[bytes, Fixed(n)]``: ``opaque x[n]``.
- ``U8``, ``U16``, ``U32``, ``U64``: big-endian unsigned integers.
- a ``@wire`` class: the nested struct.
- ``tuple[T, ...]``: ``T x<V>`` (the length counts bytes, not elements).
- ``T | None``: ``optional<T>`` (section 2.1.1).
- ``Annotated[A | B | ..., Variant(U16, {1: A, 2: B})]``: a tag followed by
  the body chosen by it; the Python type of the value chooses the tag.
- ``Annotated[T | None, When("path.to.field", (v1, v2), T)]``: a field that
  exists only when an earlier field (a dotted path for nested structs) has
  one of the given values: the ``select`` of the presentation language.

Decoding is strict: every length is checked against the bytes left, a
varint must use its minimal form, optional presence octets are 0 or 1, and
trailing bytes are rejected. Every failure raises ``DecodeError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import struct
import sys
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union, dataclass_transform, get_args, get_origin

from accord.errors import DecodeError, ValidationError
from accord.mls.codec_primitives import (
    OPAQUE,
    U8,
    U16,
    U32,
    U64,
    Codec,
    Decoder,
    Encoder,
    Fixed,
    OneOf,
    Uint,
    Variant,
    When,
    decode_varint,
    encode_varint,
    fixed_codec,
    one_of_codec,
    opaque,
    optional_codec,
    uint_codec,
    vector_codec,
)

__all__ = [
    "U8",
    "U16",
    "U32",
    "U64",
    "Codec",
    "Fixed",
    "OneOf",
    "Uint",
    "Variant",
    "WireStruct",
    "When",
    "codec_for",
    "decode",
    "decode_prefix",
    "decode_varint",
    "encode",
    "encode_varint",
    "opaque",
    "wire",
]

def _variant_codec(spec: Variant, owner: Any) -> Codec:
    tag = codec_for(spec.tag, owner)
    tenc, tdec = tag.enc, tag.dec
    by_tag: dict[int, Codec | None] = {}
    by_type: dict[type, tuple[int, Codec | None]] = {}
    for value, hint in spec.cases.items():
        c = None if hint is None else codec_for(hint, owner)
        by_tag[value] = c
        for t in (type(None),) if c is None else c.py_types:
            if t in by_type:
                raise TypeError(f"variant cases {by_type[t][0]} and {value} share type {t}")
            by_type[t] = (value, c)

    def enc(v: Any, out: bytearray) -> None:
        try:
            value, c = by_type[type(v)]
        except KeyError:
            raise ValidationError(f"{type(v).__name__} is not a case of this variant") from None
        tenc(value, out)
        if c is not None:
            c.enc(v, out)

    def dec(buf: bytes, pos: int) -> tuple[Any, int]:
        value, pos = tdec(buf, pos)
        try:
            c = by_tag[value]
        except KeyError:
            raise DecodeError(f"unknown variant tag {value}") from None
        if c is None:
            return None, pos
        return c.dec(buf, pos)

    return Codec(enc, dec, tuple(by_type), "variant")


# --------------------------------------------------------------------------
# Resolving type hints to codecs

_CODEC_CACHE: dict[Any, Codec] = {}


def codec_for(hint: Any, owner: Any = None) -> Codec:
    """The codec for a type hint (see the module docstring)."""
    try:
        return _CODEC_CACHE[hint]
    except (KeyError, TypeError):
        pass
    c = _build_codec(hint, owner)
    with contextlib.suppress(TypeError):  # unhashable hints are simply not cached
        _CODEC_CACHE[hint] = c
    return c


def _build_codec(hint: Any, owner: Any) -> Codec:
    if isinstance(hint, Codec):
        return hint
    if isinstance(hint, str):
        hint = _resolve_str(hint, owner)
    if hint is bytes:
        return OPAQUE
    if isinstance(hint, type) and hasattr(hint, "__wire_fields__"):
        return _struct_codec(hint)
    origin = get_origin(hint)
    if origin is Annotated:
        base, *meta = get_args(hint)
        allowed = [m.values for m in meta if isinstance(m, OneOf)]
        sizes = [m.size for m in meta if isinstance(m, Uint)]
        if allowed and sizes:
            return one_of_codec(uint_codec(sizes[0]), allowed[0])
        for m in meta:
            if isinstance(m, Uint):
                return uint_codec(m.size)
            if isinstance(m, Fixed):
                return fixed_codec(m.size)
            if isinstance(m, Variant):
                return _variant_codec(m, owner)
            if isinstance(m, Codec):
                return m
        return codec_for(base, owner)
    if origin is tuple:
        args = get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only tuple[T, ...] is a wire vector, not {hint}")
        return vector_codec(codec_for(args[0], owner))
    if origin in (Union, getattr(__import__("types"), "UnionType", None)):
        present = [a for a in get_args(hint) if a is not type(None)]
        if len(present) == 1 and len(get_args(hint)) == 2:
            return optional_codec(codec_for(present[0], owner))
    raise TypeError(f"no wire codec for type hint {hint!r}")


def _resolve_str(hint: str, owner: Any) -> Any:
    module = sys.modules[owner.__module__] if owner is not None else None
    ns = dict(vars(module)) if module else {}
    return eval(hint, ns)  # noqa: S307 - evaluates our own annotations only


# --------------------------------------------------------------------------
# Structs


def _field_getter(path: str) -> Callable[[Any], Any]:
    parts = path.split(".")

    def get(obj: Any) -> Any:
        for p in parts:
            obj = obj[p] if isinstance(obj, dict) else getattr(obj, p)
        return obj

    return get


Field = tuple[str, "Callable[[Any], bool] | None", Codec]
_FIELDS: dict[type, list[Field]] = {}


def _compiled(cls: type) -> list[Field]:
    try:
        return _FIELDS[cls]
    except KeyError:
        fields = _FIELDS[cls] = _compile_fields(cls)
        return fields


def _encode_fields(v: Any, fields: list[Field], out: bytearray, stop: str | None = None) -> None:
    for name, cond, c in fields:
        if name == stop:
            return
        x = getattr(v, name)
        if cond is not None:
            if not cond(v):
                if x is not None:
                    raise ValidationError(f"{type(v).__name__}.{name} must be absent here")
                continue
            if x is None:
                raise ValidationError(f"{type(v).__name__}.{name} is required here")
        c.enc(x, out)


def _struct_codec(cls: type) -> Codec:
    fields = _compiled(cls)
    return Codec(_gen_struct_enc(cls, fields), _struct_dec(cls, fields), (cls,), cls.__name__)


# Struct encoders are generated as straight-line Python, one statement per
# field, because they run for every ExpandWithLabel, signature and AEAD input
# of the protocol: a loop over (name, codec) pairs with getattr spent more
# time on bookkeeping than on encoding. Field names are dataclass field
# names (identifiers), so the generated source is fixed by the declaration.
def _gen_struct_enc(cls: type, fields: list[Field]) -> Encoder:
    env: dict[str, Any] = {
        "cls": cls,
        "ValidationError": ValidationError,
        "encode_varint": encode_varint,
    }
    lines = [
        "def enc(v, out):",
        "    if type(v) is not cls:",
        "        raise ValidationError(f'expected {cls.__name__}, got {type(v).__name__}')",
    ]
    for i, (name, cond, c) in enumerate(fields):
        env[f"e{i}"] = c.enc
        if cond is None and c is OPAQUE:
            # opaque<V> inline: the one-byte length header is the common case.
            lines += [
                f"    x = v.{name}",
                "    n = len(x)",
                "    if n < 0x40:",
                "        out.append(n)",
                "    else:",
                "        encode_varint(n, out)",
                "    out += x",
            ]
        elif cond is None:
            lines.append(f"    e{i}(v.{name}, out)")
        else:
            env[f"c{i}"] = cond
            where = f"{cls.__name__}.{name}"
            lines += [
                f"    x = v.{name}",
                f"    if c{i}(v):",
                "        if x is None:",
                f"            raise ValidationError('{where} is required here')",
                f"        e{i}(x, out)",
                "    elif x is not None:",
                f"        raise ValidationError('{where} must be absent here')",
            ]
    exec("\n".join(lines), env)  # noqa: S102 - source built from our own declarations
    enc: Encoder = env["enc"]
    return enc


def _struct_dec(cls: type, fields: list[Field]) -> Decoder:
    # Generated like the encoders. A struct with conditional fields (When)
    # also fills ``got``, the dict its conditions read the earlier fields from.
    conditional = any(cond is not None for _, cond, _ in fields)
    env: dict[str, Any] = {"cls": cls, "decode_varint": decode_varint, "DecodeError": DecodeError}
    lines = ["def dec(buf, pos):"]
    if any(c is OPAQUE for _, _, c in fields):
        lines.append("    size = len(buf)")
    if conditional:
        lines.append("    got = {}")
    for i, (name, cond, c) in enumerate(fields):
        env[f"d{i}"] = c.dec
        pad = "    "
        if cond is not None:
            env[f"c{i}"] = cond
            lines += [f"    f{i} = None", f"    if c{i}(got):"]
            pad = "        "
        if c is OPAQUE:
            # opaque<V> inline, as _dec_opaque does it: most lengths fit the
            # one-byte header; anything else goes through decode_varint.
            body = [
                "if pos < size and buf[pos] < 0x40:",
                "    n = buf[pos]",
                "    pos += 1",
                "else:",
                "    n, pos = decode_varint(buf, pos)",
                "end = pos + n",
                "if end > size:",
                "    raise DecodeError(f'truncated: vector of {n} bytes, {size - pos} left')",
                f"f{i} = buf[pos:end]",
                "pos = end",
            ]
        else:
            body = [f"f{i}, pos = d{i}(buf, pos)"]
        lines += [pad + b for b in body]
        if conditional:
            lines.append(f"    got[{name!r}] = f{i}")
    args = ", ".join(f"f{i}" for i in range(len(fields)))
    lines.append(f"    return cls({args}), pos")
    exec("\n".join(lines), env)  # noqa: S102 - source built from our own declarations
    decoder: Decoder = env["dec"]
    return decoder


def _compile_fields(cls: type) -> list[Field]:
    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls, globalns=vars(module), include_extras=True)
    out: list[Field] = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        cond = None
        if get_origin(hint) is Annotated:
            whens = [m for m in get_args(hint)[1:] if isinstance(m, When)]
            if whens:
                w = whens[0]
                get, allowed = _field_getter(w.path), frozenset(w.values)

                def cond(obj: Any, get: Any = get, allowed: Any = allowed) -> bool:
                    return get(obj) in allowed

                hint = w.hint
        out.append((f.name, cond, codec_for(hint, cls)))
    return out


C = TypeVar("C", bound=type)
S = TypeVar("S", bound="WireStruct")


class WireStruct:
    """Optional base of ``@wire`` classes: it only tells type checkers about
    the methods ``@wire`` adds (``to_bytes``, ``from_bytes``...)."""

    __slots__ = ()

    if typing.TYPE_CHECKING:

        def to_bytes(self) -> bytes: ...

        @classmethod
        def from_bytes(cls: type[S], data: bytes) -> S: ...

        @classmethod
        def decode_from(cls: type[S], buf: bytes, pos: int) -> tuple[S, int]: ...

        def encode_before(self, stop: str) -> bytes: ...


# dataclass_transform tells type checkers that a @wire class has the
# dataclass constructor of its fields.
@dataclass_transform(frozen_default=True)
def wire(cls: C) -> C:
    """Make ``cls`` a frozen, slotted dataclass with ``to_bytes``/``from_bytes``."""
    dc: Any = dataclasses.dataclass(frozen=True, slots=True)(cls)
    dc.__wire_fields__ = True
    codec_cell: list[Codec] = []

    def _codec() -> Codec:
        if not codec_cell:
            codec_cell.append(codec_for(dc))
        return codec_cell[0]

    def to_bytes(self: Any) -> bytes:
        out = bytearray()
        _codec().enc(self, out)
        return bytes(out)

    def from_bytes(klass: Any, data: bytes) -> Any:
        return decode(dc, data)

    def decode_from(klass: Any, buf: bytes, pos: int) -> tuple[Any, int]:
        return _guarded(_codec().dec, bytes(buf), pos)

    def encode_before(self: Any, stop: str) -> bytes:
        """The encoding of the fields before ``stop``: the to-be-signed prefix
        of structs whose signature is their last field (KeyPackageTBS,
        GroupInfoTBS, the start of LeafNodeTBS)."""
        out = bytearray()
        _encode_fields(self, _compiled(dc), out, stop)
        return bytes(out)

    dc.encode_before = encode_before
    dc.to_bytes = to_bytes
    dc.from_bytes = classmethod(from_bytes)
    dc.decode_from = classmethod(decode_from)
    return typing.cast(C, dc)


# --------------------------------------------------------------------------
# Top-level entry points


def encode(hint: Any, value: Any) -> bytes:
    """Encode ``value`` as the wire type ``hint``."""
    out = bytearray()
    codec_for(hint).enc(value, out)
    return bytes(out)


def _guarded(dec: Decoder, buf: bytes, pos: int) -> tuple[Any, int]:
    try:
        return dec(buf, pos)
    except DecodeError:
        raise
    except (IndexError, ValueError, struct.error, TypeError, RecursionError) as exc:
        raise DecodeError(f"malformed input: {exc}") from None


def decode(hint: Any, data: bytes) -> Any:
    """Decode all of ``data`` as the wire type ``hint``; trailing bytes are an error."""
    if not isinstance(data, bytes):
        data = bytes(data)
    value, pos = _guarded(codec_for(hint).dec, data, 0)
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} trailing bytes after the structure")
    return value


def decode_prefix(hint: Any, data: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode one ``hint`` value at ``pos``; return it and the position after it.

    For formats whose tail is not a structure, such as the zero padding of
    RFC 9420 6.3.1's PrivateMessageContent: the caller checks the rest.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    return _guarded(codec_for(hint).dec, data, pos)


def variant_tag(hint: Any, value: Any) -> int:
    """The tag a ``Variant`` alias writes for ``value``."""
    for m in get_args(hint)[1:]:
        if isinstance(m, Variant):
            for tag, case in m.cases.items():
                types = (type(None),) if case is None else codec_for(case).py_types
                if type(value) in types:
                    return tag
            raise ValidationError(f"{type(value).__name__} is not a case of this variant")
    raise TypeError(f"{hint!r} is not a Variant alias")
