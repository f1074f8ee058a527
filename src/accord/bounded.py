"""Bounded field codecs, plugged into ``accord.mls.codec``.

Shared by the sans-I/O packages that decode peers' data beyond MLS
(``accord.content``, ``accord.transparency``). The TLS codec bounds a vector
only by the bytes left (up to 2^30 - 1); data from a peer needs tighter limits, checked *before* a slice is taken, and text
that is valid UTF-8. Each helper returns an ``Annotated`` hint carrying a
``Codec``, so a field is still declared once, by its type hint. Decoding
failures raise ``DecodeError``; encoding a value out of bounds raises
``ValidationError`` (the sender's bug, not the peer's).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from accord.errors import DecodeError, ValidationError
from accord.mls.codec import Codec, codec_for, decode_varint, encode_varint

__all__ = ["BoundedBytes", "BoundedText", "BoundedTuple", "Flag", "no_controls"]

# Characters that reorder or hide text (Trojan Source, CVE-2021-42574): a
# peer must not be able to make a name or preview read differently than it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def no_controls(text: str, allow_newlines: bool = False) -> bool:
    """True when ``text`` has no control or bidi-override characters."""
    for ch in text:
        if ch in _BIDI_CONTROLS:
            return False
        if unicodedata.category(ch) == "Cc" and not (allow_newlines and ch in "\n\t"):
            return False
    return True


def _read_len(buf: bytes, pos: int, max_len: int, what: str) -> tuple[int, int]:
    n, pos = decode_varint(buf, pos)
    if n > max_len:
        raise DecodeError(f"{what} of {n} bytes exceeds the limit of {max_len}")
    if pos + n > len(buf):
        raise DecodeError(f"truncated: {what} of {n} bytes, {len(buf) - pos} left")
    return n, pos


def BoundedBytes(max_len: int, min_len: int = 0) -> Any:  # noqa: N802 - reads as a type
    """``opaque x<V>`` with ``min_len <= len(x) <= max_len``."""

    def enc(v: bytes, out: bytearray) -> None:
        if not isinstance(v, bytes | bytearray) or not min_len <= len(v) <= max_len:
            raise ValidationError(f"expected {min_len}..{max_len} bytes")
        encode_varint(len(v), out)
        out += v

    def dec(buf: bytes, pos: int) -> tuple[bytes, int]:
        n, pos = _read_len(buf, pos, max_len, "opaque field")
        if n < min_len:
            raise DecodeError(f"opaque field of {n} bytes is shorter than {min_len}")
        return buf[pos : pos + n], pos + n

    return Annotated[bytes, Codec(enc, dec, (bytes, bytearray), f"opaque<{min_len}..{max_len}>")]


def BoundedText(  # noqa: N802 - reads as a type
    max_bytes: int,
    min_bytes: int = 0,
    check: Callable[[str], bool] | None = None,
) -> Any:
    """UTF-8 text as ``opaque x<V>``, at most ``max_bytes`` once encoded.

    ``check`` is an extra rule on the decoded string (no control characters,
    no path separators, ...); a string failing it does not decode.
    """

    def enc(v: str, out: bytearray) -> None:
        try:
            raw = v.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):
            raise ValidationError("text is not encodable as UTF-8") from None
        if not min_bytes <= len(raw) <= max_bytes:
            raise ValidationError(f"text must be {min_bytes}..{max_bytes} bytes of UTF-8")
        if check is not None and not check(v):
            raise ValidationError("text breaks the field's character rules")
        encode_varint(len(raw), out)
        out += raw

    def dec(buf: bytes, pos: int) -> tuple[str, int]:
        n, pos = _read_len(buf, pos, max_bytes, "text")
        if n < min_bytes:
            raise DecodeError(f"text of {n} bytes is shorter than {min_bytes}")
        try:
            v = buf[pos : pos + n].decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("text is not valid UTF-8") from None
        if check is not None and not check(v):
            raise DecodeError("text breaks the field's character rules")
        return v, pos + n

    return Annotated[str, Codec(enc, dec, (str,), f"utf8<{min_bytes}..{max_bytes}>")]


def BoundedTuple(item: Any, max_items: int, unique: bool = False) -> Any:  # noqa: N802
    """``T x<V>`` holding at most ``max_items`` elements (optionally distinct)."""
    inner = codec_for(tuple[item, ...])

    def _check(v: tuple[Any, ...], err: type[Exception]) -> None:
        if len(v) > max_items:
            raise err(f"{len(v)} elements exceed the limit of {max_items}")
        if unique and len(set(v)) != len(v):
            raise err("elements must be distinct")

    def enc(v: tuple[Any, ...], out: bytearray) -> None:
        if not isinstance(v, tuple | list):
            raise ValidationError("expected a tuple")
        _check(tuple(v), ValidationError)
        inner.enc(v, out)

    def dec(buf: bytes, pos: int) -> tuple[tuple[Any, ...], int]:
        v, end = inner.dec(buf, pos)
        _check(v, DecodeError)
        return v, end

    return Annotated[tuple[Any, ...], Codec(enc, dec, (tuple, list), f"vec<..{max_items}>")]


def _enc_flag(v: bool, out: bytearray) -> None:
    if not isinstance(v, bool):
        raise ValidationError("expected a bool")
    out.append(1 if v else 0)


def _dec_flag(buf: bytes, pos: int) -> tuple[bool, int]:
    if pos >= len(buf):
        raise DecodeError("truncated: expected a flag octet")
    b = buf[pos]
    if b > 1:
        raise DecodeError(f"flag octet is {b}, not 0 or 1")
    return b == 1, pos + 1


Flag = Annotated[bool, Codec(_enc_flag, _dec_flag, (bool,), "flag")]
