"""Strict JSON <-> dataclass codec driven by one declaration per message.

A wire message is a frozen dataclass whose fields carry their limits in
``field(metadata=...)`` (built by :func:`f`). The same declaration decodes,
encodes, and produces the JSON Schema used in ``/openapi.json``, so the
three cannot drift apart. Binary fields travel as unpadded base64url.

Decoding is strict: unknown keys, missing keys, wrong JSON types (``true``
is not an integer), and out-of-range values are refused with
:class:`~accord.errors.ValidationError`; malformed JSON or base64 raises
:class:`~accord.errors.DecodeError`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import types
import typing
from functools import cache
from typing import Any, TypeVar

import orjson

from accord.errors import DecodeError, ValidationError

T = TypeVar("T")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
MAX_INT = 2**63 - 1
# No wire message nests deeper than a handful of levels. Python's json
# recurses once per level, so a peer's ``[[[[...`` would otherwise reach the
# interpreter's recursion limit (an internal error, not a 4xx).
MAX_JSON_DEPTH = 32
# A JSON string (skipped whole, so brackets inside it do not count) or a bracket.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def f(
    *,
    min_len: int = 0,
    max_len: int | None = None,
    pattern: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    max_items: int | None = None,
    item_max_len: int | None = None,
    default: Any = dataclasses.MISSING,
) -> Any:
    """A wire field with its limits (lengths are bytes for binary fields)."""
    meta = {
        "min_len": min_len,
        "max_len": max_len,
        "pattern": pattern,
        "minimum": minimum,
        "maximum": maximum,
        "max_items": max_items,
        "item_max_len": item_max_len,
    }
    return dataclasses.field(default=default, metadata=meta)


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise DecodeError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecodeError("not unpadded base64url") from exc
    # One encoding per value (RFC 4648 3.5): unused trailing bits must be zero,
    # so a relay cannot make two different bodies of one message.
    if b64e(data) != text:
        raise DecodeError("not canonical base64url (RFC 4648 3.5)")
    return data


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _split_optional(tp: Any) -> tuple[Any, bool]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _check_depth(raw: bytes) -> None:
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return  # cannot nest too deep: the usual case costs two counts
    depth = 0
    for token in _JSON_TOKENS.finditer(raw):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise DecodeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif bracket in (b"]", b"}"):
            depth -= 1


def loads(raw: bytes | str) -> Any:
    """The one JSON reader for data from devices and peers: bounded nesting, typed errors."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    _check_depth(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8
        raise DecodeError(f"body is not valid JSON: {exc}") from exc


def parse(cls: type[T], raw: bytes | str) -> T:
    """Decode a JSON document into ``cls``."""
    return decode(cls, loads(raw))


def decode(cls: type[T], obj: Any, where: str = "") -> T:
    if not isinstance(obj, dict):
        raise ValidationError(f"{where or cls.__name__}: expected a JSON object")
    fields = {fl.name: fl for fl in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(obj) - set(fields)
    if unknown:
        raise ValidationError(f"{where or cls.__name__}: unknown field(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    hints = _hints(typing.cast(Any, cls))
    for name, fl in fields.items():
        path = f"{where}.{name}" if where else name
        if name not in obj:
            if fl.default is dataclasses.MISSING:
                raise ValidationError(f"{path}: required")
            continue
        values[name] = _decode_value(hints[name], obj[name], dict(fl.metadata), path)
    return cls(**values)


def _decode_value(tp: Any, value: Any, meta: dict[str, Any], path: str) -> Any:
    tp, optional = _split_optional(tp)
    if value is None:
        if optional:
            return None
        raise ValidationError(f"{path}: must not be null")
    if typing.get_origin(tp) is list:
        if not isinstance(value, list):
            raise ValidationError(f"{path}: expected a list")
        if meta.get("max_items") is not None and len(value) > meta["max_items"]:
            raise ValidationError(f"{path}: at most {meta['max_items']} items")
        (item_tp,) = typing.get_args(tp)
        item_meta = {"max_len": meta.get("item_max_len"), "pattern": meta.get("pattern")}
        return [_decode_value(item_tp, v, item_meta, f"{path}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return decode(typing.cast(type, tp), value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValidationError(f"{path}: expected true or false")
        return value
    if tp is int:
        return _decode_int(value, meta, path)
    if tp is bytes and isinstance(value, bytes):  # a binary body (wire.binary), never JSON
        _check_len(len(value), meta, path, "bytes")
        return value
    if not isinstance(value, str):
        raise ValidationError(f"{path}: expected a string")
    if tp is bytes:
        try:
            data = b64d(value)
        except DecodeError as exc:
            raise DecodeError(f"{path}: {exc}") from exc
        _check_len(len(data), meta, path, "bytes")
        return data
    _check_len(len(value), meta, path, "characters")
    if meta.get("pattern") and not re.fullmatch(meta["pattern"], value):
        raise ValidationError(f"{path}: does not match {meta['pattern']}")
    return value


def _decode_int(value: Any, meta: dict[str, Any], path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{path}: expected an integer")
    lo = meta.get("minimum")
    hi = meta.get("maximum")
    lo = -MAX_INT - 1 if lo is None else lo
    hi = MAX_INT if hi is None else hi
    if not lo <= value <= hi:
        raise ValidationError(f"{path}: must be between {lo} and {hi}")
    return int(value)


def _check_len(n: int, meta: dict[str, Any], path: str, unit: str) -> None:
    if n < (meta.get("min_len") or 0):
        raise ValidationError(f"{path}: at least {meta['min_len']} {unit}")
    if meta.get("max_len") is not None and n > meta["max_len"]:
        raise ValidationError(f"{path}: at most {meta['max_len']} {unit}")


def encode(msg: Any) -> dict[str, Any]:
    """The JSON object of a wire message (optional fields that are None are left out)."""
    out: dict[str, Any] = {}
    for fl in dataclasses.fields(msg):
        value = getattr(msg, fl.name)
        if value is None:
            continue
        out[fl.name] = _encode_value(value)
    return out


def _encode_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return b64e(value)
    if isinstance(value, list | tuple):
        return [_encode_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(value)
    return value


def dumps(msg: Any) -> bytes:
    return json.dumps(encode(msg), separators=(",", ":")).encode()


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema of a message, components referenced as ``#/components/schemas``."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for fl in dataclasses.fields(cls):
        props[fl.name] = _schema_of(_hints(cls)[fl.name], dict(fl.metadata))
        if fl.default is dataclasses.MISSING:
            required.append(fl.name)
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _schema_of(tp: Any, meta: dict[str, Any]) -> dict[str, Any]:
    tp, optional = _split_optional(tp)
    if typing.get_origin(tp) is list:
        (item_tp,) = typing.get_args(tp)
        item_meta = {"max_len": meta.get("item_max_len"), "pattern": meta.get("pattern")}
        s: dict[str, Any] = {"type": "array", "items": _schema_of(item_tp, item_meta)}
        if meta.get("max_items") is not None:
            s["maxItems"] = meta["max_items"]
    elif dataclasses.is_dataclass(tp):
        s = {"$ref": f"#/components/schemas/{typing.cast(type, tp).__name__}"}
    elif tp is bool:
        s = {"type": "boolean"}
    elif tp is int:
        s = {"type": "integer", "format": "int64"}
        s["minimum"] = meta["minimum"] if meta.get("minimum") is not None else -MAX_INT - 1
        s["maximum"] = meta["maximum"] if meta.get("maximum") is not None else MAX_INT
    elif tp is bytes:
        s = {"type": "string", "format": "base64url", "pattern": "^[A-Za-z0-9_-]*$"}
        if meta.get("max_len") is not None:
            s["maxLength"] = (meta["max_len"] * 4 + 2) // 3
        if meta.get("min_len"):
            s["minLength"] = (meta["min_len"] * 4 + 2) // 3
    else:
        s = {"type": "string"}
        if meta.get("max_len") is not None:
            s["maxLength"] = meta["max_len"]
        if meta.get("min_len"):
            s["minLength"] = meta["min_len"]
        if meta.get("pattern"):
            s["pattern"] = "^" + meta["pattern"] + "$"
    if optional and "$ref" not in s:
        s["nullable"] = True
    return s
