"""A hidden-sender post as MLS bytes (issue 23): the PrivateMessage is the body.

The body of ``POST /v1/groups/{group_id}/messages`` may be the MLS message itself,
with the media type RFC 9420 registers (17.10, ``message/mls``), and the post's
other fields in headers: ``Accord-Epoch`` (decimal), ``Accord-Nonce`` and
``Accord-Signature`` (base64url). That spares the client and the provider the base64
and JSON of the ciphertext, the bulk of the post. The fields are the JSON post's
(:class:`~accord.wire.messages.ApplicationPost`) with its bounds, checked by the
same decoder; the signature input is the same (``signing.post_input``).

Deliveries go the other way as a small envelope (``QUEUE_MEDIA_TYPE``), which the
client asks for with ``Accept``: a queue page whose item bodies are raw bytes,
every field length-prefixed, and decoded against :class:`~accord.wire.messages.
QueuePage`'s bounds by the same decoder as the JSON page. Layout (big-endian)::

    page  = version(1)=1 || next_after(8) || count(2) || item*count
    item  = flags(1) || seq(8) || created_at(8) || msg_id<1> || kind<1> || body<4>
            || [group_id<1>] [epoch(8)] [sender<2>] [frank<1>] [chain_seq(8)]
            [chain<1>]

``x<n>`` is an n-byte length then the bytes (strings UTF-8); ``flags`` bit i says
whether the i-th optional field (in the order shown) is present. A truncated,
overlong or trailing byte, an unknown version or flag, or a count over
``MAX_PAGE_ITEMS`` is a :class:`~accord.errors.DecodeError`; a field outside its
bound a :class:`~accord.errors.ValidationError`.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from accord.errors import DecodeError, ValidationError
from accord.wire.codec import b64e, decode
from accord.wire.messages import MAX_PAGE_ITEMS, ApplicationPost, QueuePage

MLS_MEDIA_TYPE = "message/mls"
EPOCH, NONCE, SIGNATURE = "accord-epoch", "accord-nonce", "accord-signature"
MAX_EPOCH_DIGITS = 19
QUEUE_MEDIA_TYPE = "application/vnd.accord.queue"
QUEUE_VERSION = 1
# the WebSocket subprotocol under which push frames are binary queue pages
QUEUE_SUBPROTOCOL = "accord.queue.v1"
# (field, kind): "u64" an integer, "s<n>"/"b<n>" a string/bytes after an n-byte length
_REQUIRED = (("seq", "u64"), ("created_at", "u64"), ("msg_id", "s1"), ("kind", "s1"),
             ("body", "b4"))
_OPTIONAL = (("group_id", "b1"), ("epoch", "u64"), ("sender", "s2"), ("frank", "b1"),
             ("chain_seq", "u64"), ("chain", "b1"))
_ALL_FLAGS = (1 << len(_OPTIONAL)) - 1
_U64 = struct.Struct(">Q")
_HEAD = struct.Struct(">BQH")


def is_mls(content_type: str | None) -> bool:
    """Whether a Content-Type names the MLS media type (parameters ignored)."""
    return (content_type or "").split(";", 1)[0].strip().lower() == MLS_MEDIA_TYPE


def post_headers(post: ApplicationPost) -> dict[str, str]:
    """The headers that go with ``post.ciphertext`` as the body."""
    return {"content-type": MLS_MEDIA_TYPE, EPOCH: str(post.epoch),
            NONCE: b64e(post.nonce), SIGNATURE: b64e(post.signature)}


def post_from_binary(headers: Mapping[str, str], body: bytes) -> ApplicationPost:
    """The post a binary body and its headers carry; typed errors for anything amiss."""
    epoch = headers.get(EPOCH)
    if epoch is None or not (epoch.isascii() and epoch.isdigit()) or len(epoch) > MAX_EPOCH_DIGITS:
        raise ValidationError(f"{EPOCH}: a decimal epoch is required")
    fields: dict[str, object] = {"epoch": int(epoch), "ciphertext": body}
    for name, header in (("nonce", NONCE), ("signature", SIGNATURE)):
        value = headers.get(header)
        if value is None:
            raise ValidationError(f"{header}: required with a {MLS_MEDIA_TYPE} body")
        fields[name] = value
    return decode(ApplicationPost, fields, "post")



def accepts(accept: str | None, media_type: str) -> bool:
    """Whether an Accept header lists ``media_type`` (and not with ``q=0``)."""
    for entry in (accept or "").split(","):
        name, *params = (part.strip().lower() for part in entry.split(";"))
        if name == media_type and not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00",
                                                                  "q=0.000") for p in params):
            return True
    return False


def _put(out: list[bytes], kind: str, value: Any) -> None:
    if kind == "u64":
        out.append(_U64.pack(value))
        return
    data = value.encode("utf-8") if kind[0] == "s" else value
    out.append(len(data).to_bytes(int(kind[1]), "big"))
    out.append(data)


def encode_queue_page(page: QueuePage) -> bytes:
    """The binary envelope of a queue page (the items as the provider made them)."""
    if len(page.items) > MAX_PAGE_ITEMS:
        raise ValidationError(f"a queue page holds at most {MAX_PAGE_ITEMS} items")
    out = [_HEAD.pack(QUEUE_VERSION, page.next_after, len(page.items))]
    for item in page.items:
        present = [getattr(item, name) is not None for name, _ in _OPTIONAL]
        out.append(bytes([sum(1 << i for i, p in enumerate(present) if p)]))
        for name, kind in _REQUIRED:
            _put(out, kind, getattr(item, name))
        for (name, kind), here in zip(_OPTIONAL, present, strict=True):
            if here:
                _put(out, kind, getattr(item, name))
    return b"".join(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = memoryview(data), 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise DecodeError("queue page: truncated")
        chunk = bytes(self.data[self.at:self.at + n])
        self.at += n
        return chunk

    def field(self, kind: str, where: str) -> Any:
        if kind == "u64":
            return _U64.unpack(self.take(8))[0]
        data = self.take(int.from_bytes(self.take(int(kind[1])), "big"))
        if kind[0] == "b":
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{where}: not UTF-8") from None


def decode_queue_page(data: bytes) -> QueuePage:
    """The queue page of a binary envelope; typed errors for anything amiss."""
    reader = _Reader(data)
    version, next_after, count = _HEAD.unpack(reader.take(_HEAD.size))
    if version != QUEUE_VERSION:
        raise DecodeError(f"queue page: unknown version {version}")
    if count > MAX_PAGE_ITEMS:
        raise DecodeError(f"queue page: more than {MAX_PAGE_ITEMS} items")
    raw_items: list[dict[str, Any]] = []
    for i in range(count):
        where = f"items[{i}]"
        flags = reader.take(1)[0]
        if flags & ~_ALL_FLAGS:
            raise DecodeError(f"{where}: unknown flags {flags:#04x}")
        fields = {name: reader.field(kind, f"{where}.{name}") for name, kind in _REQUIRED}
        for bit, (name, kind) in enumerate(_OPTIONAL):
            if flags >> bit & 1:
                fields[name] = reader.field(kind, f"{where}.{name}")
        raw_items.append(fields)
    if reader.at != len(data):
        raise DecodeError("queue page: trailing bytes")
    # the JSON page's bounds, through the same decoder
    return decode(QueuePage, {"items": raw_items, "next_after": next_after})
