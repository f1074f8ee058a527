"""Accord's content kinds as MIMI content (draft-ietf-mimi-content-08), both ways.

``to_mimi`` turns an Accord ``Content`` into a ``MimiContent``; ``from_mimi``
reads a ``MimiContent`` (from Accord or any MIMI client) back into a
``Content``, or says why it cannot: ``Unsupported`` (show it as such, with
its summary) or ``NoEffect`` (it refers to a message this device never saw,
which section 9.1 calls legitimate). For every content Accord sends,
``from_mimi(to_mimi(c)) == c``.

How each kind is carried (docs/INTEROP.md, "MIMI content"):

- Accord message id: the 16-octet random ``salt`` (both are fresh random
  values per message, section 3.3 and 9.2).
- sender time and franking key: the private-use extension ``"accord"``
  (section 4.3: text keys are private use), a map ``{1: sent_at ms, 2: key}``.
- text: a ``render`` part ``text/plain;charset=utf-8``, or
  ``text/markdown;variant=GFM-MIMI`` for a markdown text (``Text.markdown``;
  a device may show it as its plain source, 7.1).
- topic: ``topicId`` (``Header.topic``).
- reply: ``inReplyTo``; reaction: a ``reaction`` part with the emoji and
  ``inReplyTo`` the target; its removal: ``replaces`` the reaction message
  with a null ``reaction`` part (the draft's "unlike"); edit: ``replaces``
  with the new text; delete: ``replaces`` with a null part.
- disappearing timer: ``expires`` as an absolute time (sender time plus the
  timer, whole seconds), which is what Accord's timer means.
- attachments: ``processAll`` of the text and one ``attachment`` external
  part per file: url = locator, size = plaintext size, encAlg =
  ``ACCORD_STREAM_AEAD`` (private use, RFC 5116 registry: Accord's chunked
  AES-256-GCM, ``accord.content.attachment``), key, empty nonce (per chunk,
  derived), aad = the blob AAD, hashAlg sha-256 over the ciphertext, file name.
- read and delivery receipts: a MIMI message status report
  (``application/mimi-message-status``, draft-mahy-mimi-message-status,
  ``mimi_status``), disposition ``unspecified``: each MIMI ID with ``read``
  or ``delivered``; on receipt other statuses are ignored.
- timer settings, notices: Accord media types (section 7.2, proprietary
  types), disposition ``unspecified``.

MIMI references are message IDs of 32 octets that hash the whole message,
so the mapping needs the IDs of earlier messages: a ``MessageIndex``
(``MemoryIndex`` here; a device keeps one per conversation).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from accord.content import cbor, model
from accord.content.attachment import BLOB_AAD
from accord.content.message import check_content as check_accord_content
from accord.content.mimi import (
    HASH_SHA256,
    ROOM_URI,
    SENDER_URI,
    Disposition,
    Expiration,
    ExternalPart,
    MimiContent,
    MultiPart,
    NestedPart,
    NullPart,
    PartSemantics,
    SinglePart,
    effective_disposition,
)
from accord.content.mimi_links import mention, mentions, open_external
from accord.content.mimi_status import STATUS_TYPE, MessageStatus, decode_status, encode_status
from accord.errors import AccordError, DecodeError, ValidationError

__all__ = [
    "ACCORD_EXTENSION",
    "ACCORD_STREAM_AEAD",
    "MemoryIndex",
    "MessageIndex",
    "NoEffect",
    "Unsupported",
    "is_text",
    "kind_of",
    "from_mimi",
    "mention",
    "mentions",
    "open_external",
    "to_mimi",
]

RULE = "docs/INTEROP.md MIMI content"
ACCORD_EXTENSION = "accord"
_SENT_AT = 1
ACCORD_STREAM_AEAD = 0xFF01  # RFC 5116 AEAD registry, private use (32768-65535)
TEXT_PLAIN = "text/plain;charset=utf-8"
TEXT_MARKDOWN = "text/markdown;variant=GFM-MIMI"
TIMER_TYPE = "application/vnd.accord.timer+cbor"  # seconds, 0 = off
NOTICE_TYPE = "application/vnd.accord.notice+cbor"  # [kind, subject]


class MessageIndex(Protocol):
    """What the mapping must know of earlier messages of the same room."""

    def mimi_id(self, accord_id: bytes) -> bytes | None: ...

    def accord_id(self, mimi_id: bytes) -> bytes | None: ...

    def reaction(self, mimi_id: bytes) -> tuple[bytes, str] | None:
        """(target Accord id, emoji) of the reaction message ``mimi_id``."""
        ...

    def reaction_id(self, target: bytes, emoji: str) -> bytes | None:
        """The MIMI ID of this device's account's reaction ``emoji`` to ``target``."""
        ...


class MemoryIndex:
    """A ``MessageIndex`` in memory: ``record`` each message sent or received."""

    def __init__(self) -> None:
        self._to_mimi: dict[bytes, bytes] = {}
        self._to_accord: dict[bytes, bytes] = {}
        self._reactions: dict[bytes, tuple[bytes, str]] = {}
        self._reaction_ids: dict[tuple[bytes, str], bytes] = {}

    def record(self, content: model.Content, mimi_id: bytes) -> None:
        self._to_mimi[content.message_id] = mimi_id
        self._to_accord[mimi_id] = content.message_id
        body = content.body
        if isinstance(body, model.Reaction) and not body.remove:
            self._reactions[mimi_id] = (body.target, body.emoji)
            self._reaction_ids[(body.target, body.emoji)] = mimi_id

    def mimi_id(self, accord_id: bytes) -> bytes | None:
        return self._to_mimi.get(accord_id)

    def accord_id(self, mimi_id: bytes) -> bytes | None:
        return self._to_accord.get(mimi_id)

    def reaction(self, mimi_id: bytes) -> tuple[bytes, str] | None:
        return self._reactions.get(mimi_id)

    def reaction_id(self, target: bytes, emoji: str) -> bytes | None:
        return self._reaction_ids.get((target, emoji))


@dataclasses.dataclass(frozen=True, slots=True)
class Unsupported:
    """A message Accord cannot show as one of its kinds: shown as unsupported."""

    reason: str
    summary: str  # what it holds (content types, file names), as data, never markup


@dataclasses.dataclass(frozen=True, slots=True)
class NoEffect:
    """A message about one this device never saw (section 9.1: legitimate)."""

    reason: str


# --- Accord -> MIMI ---------------------------------------------------------------------


def _ref(index: MessageIndex, accord_id: bytes) -> bytes:
    mimi_id = index.mimi_id(accord_id)
    if mimi_id is None:
        raise ValidationError(f"no MIMI ID known for message {accord_id.hex()}", RULE)
    return mimi_id


def _text(text: str, disposition: int = Disposition.RENDER, markdown: bool = False) -> SinglePart:
    return SinglePart(disposition, "", TEXT_MARKDOWN if markdown else TEXT_PLAIN,
                      text.encode("utf-8"))


def _external(a: model.Attachment) -> ExternalPart:
    return ExternalPart(
        Disposition.ATTACHMENT, "", a.media_type, a.locator, 0, a.size, ACCORD_STREAM_AEAD,
        a.key, b"", BLOB_AAD, HASH_SHA256, a.ciphertext_sha256, "", a.file_name,
    )


def _body(body: model.BodyKinds, index: MessageIndex) -> tuple[bytes | None, bytes | None, NestedPart]:
    """(replaces, inReplyTo, body part) of one Accord body."""
    if isinstance(body, model.Text):
        reply = _ref(index, body.reply_to) if body.reply_to is not None else None
        text = _text(body.text, markdown=body.markdown)
        if not body.attachments:
            return None, reply, text
        parts: tuple[NestedPart, ...] = (text, *map(_external, body.attachments))
        return None, reply, MultiPart(Disposition.RENDER, "", PartSemantics.PROCESS_ALL, parts)
    if isinstance(body, model.Reaction):
        target = _ref(index, body.target)
        if not body.remove:
            return None, target, _text(body.emoji, Disposition.REACTION)
        earlier = index.reaction_id(body.target, body.emoji)
        if earlier is None:
            raise ValidationError("removing a reaction this device never sent", RULE)
        return earlier, target, NullPart(Disposition.REACTION)
    if isinstance(body, model.Edit):
        return _ref(index, body.target), None, _text(body.text)
    if isinstance(body, model.Delete):
        return _ref(index, body.target), None, NullPart(Disposition.RENDER)
    if isinstance(body, model.ReadReceipt):
        entries = [(_ref(index, m), MessageStatus.READ) for m in body.message_ids]
        entries += [(_ref(index, m), MessageStatus.DELIVERED) for m in body.delivered]
        return None, None, SinglePart(Disposition.UNSPECIFIED, "", STATUS_TYPE,
                                      encode_status(entries))
    if isinstance(body, model.TimerSetting):
        return None, None, SinglePart(Disposition.UNSPECIFIED, "", TIMER_TYPE,
                                      cbor.encode(body.seconds))
    return None, None, SinglePart(Disposition.UNSPECIFIED, "", NOTICE_TYPE,
                                  cbor.encode((body.kind, body.subject)))


def to_mimi(content: model.Content, index: MessageIndex, sender_uri: str, room_uri: str) -> MimiContent:
    """The MIMI content of ``content`` sent by ``sender_uri`` into ``room_uri``."""
    check_accord_content(content)  # the rules of Accord's own kinds hold first
    header = content.header
    expires = None
    if header.expires_after:
        at = header.sent_at // 1000 + header.expires_after
        if at >= 1 << 32:
            raise ValidationError("an expiry after 2106", "draft-ietf-mimi-content-08 4.1")
        expires = Expiration(False, at)
    replaces, in_reply_to, part = _body(content.body, index)
    extensions: dict[int | str, Any] = {
        SENDER_URI: sender_uri,
        ROOM_URI: room_uri,
        ACCORD_EXTENSION: {_SENT_AT: header.sent_at},
    }
    return MimiContent(header.message_id, replaces, header.topic, expires, in_reply_to,
                       extensions, part)


# --- MIMI -> Accord ---------------------------------------------------------------------


class _Refused(Exception):
    """Internal: the body cannot be mapped; carries the result to return."""

    def __init__(self, result: Unsupported | NoEffect) -> None:
        self.result = result


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """RFC 2045 5.1: the type/subtype (case-insensitive) and its parameters."""
    kind, *params = (p.strip() for p in content_type.split(";"))
    values = {}
    for p in params:
        name, _, value = p.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    return kind.lower(), values


def is_text(part: NestedPart) -> bool:
    """A text part Accord shows: ``text/plain`` (UTF-8 or ASCII) or ``text/markdown``."""
    if not isinstance(part, SinglePart):
        return False
    kind, params = _media_type(part.content_type)
    if kind == "text/plain":
        return params.get("charset", "utf-8").lower() in ("utf-8", "us-ascii")
    return kind == "text/markdown"  # 7.1: shown as plain text is acceptable support


def _is_markdown(part: NestedPart) -> bool:
    return isinstance(part, SinglePart) and _media_type(part.content_type)[0] == "text/markdown"


def _text_of(part: NestedPart) -> str:
    assert isinstance(part, SinglePart)
    try:
        return part.content.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(Unsupported("text that is not UTF-8", part.content_type)) from None


def _summary(part: NestedPart) -> str:
    if isinstance(part, MultiPart):
        return ", ".join(_summary(p) for p in part.parts)
    if isinstance(part, ExternalPart):
        return f"{part.content_type} {part.filename or part.url}".strip()
    if isinstance(part, SinglePart):
        return part.content_type
    return "no content"


def _attachment(part: NestedPart) -> model.Attachment:
    if not (isinstance(part, ExternalPart) and part.enc_alg == ACCORD_STREAM_AEAD
            and len(part.key) == 32 and not part.nonce and part.aad == BLOB_AAD
            and part.hash_alg == HASH_SHA256 and len(part.content_hash) == 32):
        raise _Refused(Unsupported("an attachment not in Accord's blob format", _summary(part)))
    return model.Attachment(part.url, part.key, part.content_hash, part.size,
                            part.content_type, part.filename)


def _payload(part: SinglePart) -> Any:
    try:
        return cbor.decode(part.content)
    except DecodeError:
        raise _Refused(Unsupported("a malformed Accord part", part.content_type)) from None


def _target(index: MessageIndex, mimi_id: bytes | None) -> bytes:
    accord_id = index.accord_id(mimi_id) if mimi_id is not None else None
    if accord_id is None:
        raise _Refused(NoEffect("refers to a message not seen here"))
    return accord_id


def _replacing(m: MimiContent, index: MessageIndex) -> model.BodyKinds:
    part, disposition = m.body, effective_disposition(m.body.disposition)
    if isinstance(part, NullPart) and disposition == Disposition.REACTION:
        assert m.replaces is not None
        reaction = index.reaction(m.replaces)
        if reaction is None:
            raise _Refused(NoEffect("removes a reaction not seen here"))
        return model.Reaction(reaction[0], reaction[1], True)
    target = _target(index, m.replaces)
    if isinstance(part, NullPart):
        return model.Delete(target)
    if is_text(part):
        return model.Edit(target, _text_of(part))
    raise _Refused(Unsupported("an edit that is not text", _summary(part)))


def _single(part: SinglePart, m: MimiContent, index: MessageIndex) -> model.BodyKinds:
    kind, _ = _media_type(part.content_type)
    if effective_disposition(part.disposition) == Disposition.REACTION and is_text(part):
        return model.Reaction(_target(index, m.in_reply_to), _text_of(part))
    if is_text(part):
        reply = index.accord_id(m.in_reply_to) if m.in_reply_to is not None else None
        return model.Text(_text_of(part), reply, (), _is_markdown(part))
    if kind == STATUS_TYPE:
        return _status_report(part, index)
    value = _payload(part) if kind in (TIMER_TYPE, NOTICE_TYPE) else None
    if kind == TIMER_TYPE and isinstance(value, int) and not isinstance(value, bool):
        return model.TimerSetting(value)
    if (kind == NOTICE_TYPE and isinstance(value, tuple) and len(value) == 2
            and isinstance(value[0], int) and not isinstance(value[0], bool)
            and isinstance(value[1], str)):
        return model.Notice(value[0], value[1])
    raise _Refused(Unsupported("an unsupported content type", part.content_type))


def _status_report(part: SinglePart, index: MessageIndex) -> model.ReadReceipt:
    """A message status report: what it says read or delivered of messages seen here;
    other statuses, and messages never seen here, are dropped."""
    try:
        entries = decode_status(part.content)
    except DecodeError:
        raise _Refused(Unsupported("a malformed message status report", part.content_type)) from None
    known = [(index.accord_id(mid), status) for mid, status in entries]
    read = tuple(a for a, s in known if a is not None and s == MessageStatus.READ)
    delivered = tuple(a for a, s in known if a is not None and s == MessageStatus.DELIVERED)
    return model.ReadReceipt(read, delivered)


MAX_NOTE = 100


@dataclasses.dataclass(frozen=True, slots=True)
class _Shown:
    """What Accord shows of a part: texts (with their markdown flag), attachments, and
    the summaries of the parts it cannot show."""

    texts: tuple[tuple[str, bool], ...] = ()
    attachments: tuple[model.Attachment, ...] = ()
    unsupported: tuple[str, ...] = ()

    def rank(self) -> tuple[bool, bool]:
        shows = bool(self.texts or self.attachments)
        return shows and not self.unsupported, shows


def _show(part: NestedPart) -> _Shown:
    """Section 4.4, level by level (at most ``MAX_NESTING``, as decoded): of a
    ``chooseOne``, the first alternative shown whole, else the first shown at all; of a
    ``singleUnit``, all of it or, when one part is not understood, none; of a
    ``processAll``, every part, those not understood said as unsupported."""
    if isinstance(part, NullPart):
        return _Shown()
    if isinstance(part, SinglePart | ExternalPart):
        try:
            if isinstance(part, ExternalPart):
                return _Shown(attachments=(_attachment(part),))
            if is_text(part):
                return _Shown(texts=((_text_of(part), _is_markdown(part)),))
        except _Refused:
            pass
        return _Shown(unsupported=(_summary(part),))
    shown = [_show(p) for p in part.parts]
    if part.semantics == PartSemantics.CHOOSE_ONE:
        return max(shown, key=_Shown.rank)  # the first of the best
    if part.semantics == PartSemantics.SINGLE_UNIT and any(s.unsupported for s in shown):
        return _Shown(unsupported=(_summary(part),))
    return _Shown(tuple(t for s in shown for t in s.texts),
                  tuple(a for s in shown for a in s.attachments),
                  tuple(u for s in shown for u in s.unsupported))


def _mapped_body(m: MimiContent, part: NestedPart, index: MessageIndex) -> model.BodyKinds:
    if m.replaces is not None:
        return _replacing(m, index)
    if isinstance(part, SinglePart):
        return _single(part, m, index)
    if isinstance(part, MultiPart):
        shown = _show(part)
        if shown.texts or shown.attachments:
            reply = index.accord_id(m.in_reply_to) if m.in_reply_to is not None else None
            notes = [f"[unsupported: {' '.join(u.split())[:MAX_NOTE]}]" for u in shown.unsupported]
            text = "\n".join(x for x in ("\n\n".join(t for t, _ in shown.texts), *notes) if x)
            markdown = bool(shown.texts) and shown.texts[0][1]
            return model.Text(text, reply, tuple(shown.attachments), markdown)
    if isinstance(part, ExternalPart):
        return model.Text("", None, (_attachment(part),))
    raise _Refused(Unsupported("content Accord cannot show", _summary(part)))


def kind_of(m: MimiContent) -> str:
    """The Accord kind ``from_mimi`` reads ``m`` as, from its shape alone (no index, no
    external part opened): ``text``, ``reaction``, ``edit``, ``delete``,
    ``readreceipt``, ``timersetting``, ``notice``, else ``unsupported``."""
    part = m.body
    reaction = effective_disposition(part.disposition) == Disposition.REACTION
    if m.replaces is not None:
        return "reaction" if reaction else "delete" if isinstance(part, NullPart) else "edit"
    if isinstance(part, MultiPart):
        shown = _show(part)
        return "text" if shown.texts or shown.attachments else "unsupported"
    if isinstance(part, ExternalPart):
        return "text"
    if isinstance(part, SinglePart):
        if is_text(part):
            return "reaction" if reaction else "text"
        kind, _ = _media_type(part.content_type)
        return _ACCORD_TYPES.get(kind, "unsupported")
    return "unsupported"


_ACCORD_TYPES = {STATUS_TYPE: "readreceipt", TIMER_TYPE: "timersetting", NOTICE_TYPE: "notice"}


def _header(m: MimiContent, received_at: int) -> model.Header:
    ext = m.extensions.get(ACCORD_EXTENSION)
    sent_at = received_at  # a foreign sender: the hub's time
    if isinstance(ext, dict):  # other keys (an older Accord's franking key, 2): ignored
        sent_at = ext.get(_SENT_AT, received_at)
        if not isinstance(sent_at, int) or isinstance(sent_at, bool) or sent_at < 0:
            raise _Refused(Unsupported("a malformed Accord extension", "sent_at"))
    expires_after = 0
    if m.expires is not None and not m.expires.relative:
        expires_after = max(1, m.expires.time - sent_at // 1000)
    elif m.expires is not None:
        expires_after = max(1, m.expires.time)  # after reading: counted from receipt
    return model.Header(m.salt, sent_at, expires_after, m.topic_id)


def from_mimi(m: MimiContent, index: MessageIndex, received_at: int) -> model.Content | Unsupported | NoEffect:
    """The Accord content of ``m``; ``received_at`` (ms) is the hub's accepted time, used
    when the sender gave none."""
    try:
        content = model.Content(_header(m, received_at), _mapped_body(m, m.body, index))
    except _Refused as refused:
        return refused.result
    try:
        check_accord_content(content)  # the same rules as Accord's own content
    except AccordError as exc:
        return Unsupported(f"content outside Accord's limits: {exc}", _summary(m.body))
    return content
