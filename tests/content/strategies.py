"""Hypothesis strategies for every content kind."""

from __future__ import annotations

from hypothesis import strategies as st

from accord.content import mimi, mimi_map, model
from accord.content.fields import no_controls

ids = st.binary(min_size=16, max_size=16)
keys = st.binary(min_size=32, max_size=32)
_chars = st.characters(blacklist_categories=("Cc", "Cs"))
text = st.text(alphabet=st.one_of(_chars, st.sampled_from("\n\t")), max_size=120).filter(
    lambda s: no_controls(s, allow_newlines=True)
)
one_line = st.text(alphabet=_chars, max_size=60).filter(no_controls)
emoji = (
    st.text(alphabet=_chars, min_size=1, max_size=6)
    .filter(lambda s: no_controls(s) and not any(c.isspace() for c in s))
    .filter(lambda s: len(s.encode()) <= model.MAX_EMOJI_BYTES)
)
media_type = st.from_regex(r"[a-z]{1,12}/[a-z0-9.+-]{1,24}", fullmatch=True)
file_name = one_line.filter(model._file_name)
locator = st.text(alphabet=_chars, min_size=1, max_size=60).filter(no_controls)

attachments = st.builds(
    model.Attachment,
    locator=locator,
    key=keys,
    ciphertext_sha256=keys,
    size=st.integers(0, model.MAX_ATTACHMENT_SIZE),
    media_type=media_type,
    file_name=file_name,
)

bodies = st.one_of(
    st.builds(
        model.Text,
        text=text,
        reply_to=st.none() | ids,
        attachments=st.lists(attachments, max_size=3).map(tuple),
        markdown=st.booleans(),
    ),
    st.builds(model.Reaction, target=ids, emoji=emoji, remove=st.booleans()),
    st.builds(model.Edit, target=ids, text=text),
    st.builds(model.Delete, target=ids),
    st.tuples(st.lists(ids, max_size=20, unique=True), st.integers(0, 20)).map(
        lambda x: model.ReadReceipt(tuple(x[0][:x[1]]), tuple(x[0][x[1]:]))),
    st.builds(model.TimerSetting, seconds=st.integers(0, model.MAX_TIMER_SECONDS)),
    st.builds(model.Notice, kind=st.sampled_from(model.NoticeKind.ALL), subject=one_line),
)

headers = st.builds(
    model.Header,
    message_id=ids,
    sent_at=st.integers(0, 2**64 - 1),
    expires_after=st.integers(0, model.MAX_TIMER_SECONDS),
    topic=st.binary(max_size=24),
)

contents = st.builds(model.Content, header=headers, body=bodies)

# MIMI content (draft-ietf-mimi-content-08) of any shape the codec accepts.
_text = st.text(max_size=12)
_content_types = st.sampled_from([
    "text/plain;charset=utf-8", "text/markdown;variant=GFM-MIMI", "Text/Plain",
    "application/vnd.accord.timer+cbor", "application/vnd.accord.notice+cbor",
    "application/mimi-message-status",
]) | _text
_leaf = st.one_of(
    st.builds(mimi.NullPart, st.integers(0, 255), st.sampled_from(["", "en", "fr,de-CH"])),
    st.builds(mimi.SinglePart, st.integers(0, 255), st.just(""), _content_types,
              st.binary(max_size=12) | st.text(max_size=12).map(str.encode)),
    st.builds(mimi.ExternalPart, st.integers(0, 255), st.just("en"), _text, _text,
              st.integers(0, (1 << 32) - 1), st.integers(0, (1 << 64) - 1),
              st.integers(0, 65535), st.binary(max_size=16), st.binary(max_size=12),
              st.binary(max_size=4), st.integers(0, 255), st.binary(max_size=32), _text, _text),
)
_parts = st.recursive(
    _leaf,
    lambda inner: st.builds(mimi.MultiPart, st.integers(0, 255), st.just(""),
                            st.integers(0, 2), st.lists(inner, min_size=2, max_size=3).map(tuple)),
    max_leaves=8,
).filter(lambda p: max(_level(p)) <= mimi.MAX_NESTING)


def _level(part: mimi.NestedPart, level: int = 1) -> list[int]:
    if isinstance(part, mimi.MultiPart):
        return [x for p in part.parts for x in _level(p, level + 1)]
    return [level]


_ids = st.none() | st.binary(min_size=31, max_size=31).map(lambda b: b"\x01" + b)
mimi_contents = st.builds(
    mimi.MimiContent,
    st.binary(min_size=16, max_size=16), _ids, st.binary(max_size=8),
    st.none() | st.builds(mimi.Expiration, st.booleans(), st.integers(0, (1 << 32) - 1)),
    _ids,
    st.dictionaries(st.integers(1, 300) | st.text(min_size=1, max_size=4),
                    st.integers(-(1 << 63), 1 << 63) | st.text(max_size=4), max_size=3)
    .filter(lambda d: all(isinstance(d[k], str) for k in (1, 2) if k in d)),
    _parts,
)


def knowing(body: model.BodyKinds) -> mimi_map.MemoryIndex:
    """An index that has seen every message ``body`` refers to (and, for a removal,
    the reaction it removes), so that ``body`` can be sealed."""
    refs: list[bytes] = []
    if isinstance(body, model.Text) and body.reply_to:
        refs = [body.reply_to]
    elif isinstance(body, model.ReadReceipt):
        refs = [*body.message_ids, *body.delivered]
    elif hasattr(body, "target"):
        refs = [body.target]
    index = mimi_map.MemoryIndex()
    for n, ref in enumerate(refs):
        earlier = model.Content(model.Header(ref, 0, 0), model.Delete(bytes(16)))
        index.record(earlier, b"\x01" + n.to_bytes(2, "big") * 15 + b"\x00")
    if isinstance(body, model.Reaction) and body.remove:
        added = model.Content(model.Header(bytes(range(16)), 0, 0),
                              model.Reaction(body.target, body.emoji))
        index.record(added, b"\x01" + b"\xff" * 31)
    return index
