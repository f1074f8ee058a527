"""deserialization.json: variable-size length headers (RFC 9420 2.1.2)."""

from __future__ import annotations

from typing import Any

from accord.mls.codec import decode_varint, encode_varint
from accord.mls.vectors import expect, h


def check(entry: dict[str, Any]) -> None:
    header = h(entry["vlbytes_header"])
    length, end = decode_varint(header, 0)
    expect("length", length, int(entry["length"]))
    expect("header size", end, len(header))
    out = bytearray()
    encode_varint(length, out)
    expect("re-encoded header", bytes(out), header)
