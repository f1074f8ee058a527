"""Accord's content kinds as MIMI content: every kind round-trips, the draft's examples
read as Accord kinds, and what Accord cannot show is said, never a crash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.content import mimi, model
from accord.content.mimi_map import (
    ACCORD_STREAM_AEAD,
    MemoryIndex,
    NoEffect,
    Unsupported,
    from_mimi,
    mention,
    mentions,
    open_external,
    to_mimi,
)
from accord.errors import CryptoError, DecodeError, ValidationError

from .strategies import bodies, ids, mimi_contents

EXAMPLES = Path(__file__).parents[1] / "vectors" / "mimi-content"
ALICE, ROOM = "mimi://a.example/u/alice", "mimi://a.example/r/team"


def _refs(body: model.BodyKinds) -> list[bytes]:
    if isinstance(body, model.Text):
        return [body.reply_to] if body.reply_to else []
    if isinstance(body, model.ReadReceipt):
        return [*body.message_ids, *body.delivered]
    return [body.target] if hasattr(body, "target") else []


def _index_knowing(body: model.BodyKinds) -> MemoryIndex:
    """An index that has seen every message ``body`` refers to (and, for a removal,
    the reaction it removes)."""
    index = MemoryIndex()
    for n, ref in enumerate(_refs(body)):
        earlier = model.Content(model.Header(ref, 0, 0), model.Delete(bytes(16)))
        index.record(earlier, b"\x01" + hashlib.sha256(ref + bytes([n])).digest()[:31])
    if isinstance(body, model.Reaction) and body.remove:
        added = model.Content(model.Header(bytes(range(16)), 0, 0),
                              model.Reaction(body.target, body.emoji))
        index.record(added, b"\x01" + bytes(31))
    return index


headers = st.builds(model.Header, message_id=ids, sent_at=st.integers(0, 4_000_000_000_000),
                    expires_after=st.integers(0, model.MAX_TIMER_SECONDS))


@settings(max_examples=300, deadline=None)
@given(headers, bodies)
def test_every_accord_kind_round_trips_through_mimi_bytes(header: model.Header,
                                                          body: model.BodyKinds) -> None:
    content = model.Content(header, body)
    index = _index_knowing(body)
    data = mimi.encode_content(to_mimi(content, index, ALICE, ROOM))
    decoded = mimi.decode_content(data)
    assert decoded.sender_uri == ALICE and decoded.room_uri == ROOM
    assert from_mimi(decoded, index, received_at=1) == content


def _mapped(body: model.BodyKinds, expires_after: int = 0) -> mimi.MimiContent:
    content = model.Content(model.Header(bytes(16), 1_644_387_225_019, expires_after), body)
    return to_mimi(content, _index_knowing(body), ALICE, ROOM)


def test_kinds_take_the_draft_shapes() -> None:
    target = bytes([7]) * 16
    reaction = _mapped(model.Reaction(target, "\u2764"))
    assert reaction.in_reply_to is not None and reaction.replaces is None
    assert reaction.body == mimi.SinglePart(2, "", "text/plain;charset=utf-8", "\u2764".encode())
    unlike = _mapped(model.Reaction(target, "\u2764", remove=True))
    assert unlike.replaces == b"\x01" + bytes(31) and unlike.body == mimi.NullPart(2)
    delete = _mapped(model.Delete(target))
    assert delete.replaces is not None and delete.body == mimi.NullPart(1)
    edit = _mapped(model.Edit(target, "fixed"))
    assert edit.replaces is not None and edit.body.content == b"fixed"  # type: ignore[union-attr]
    expiring = _mapped(model.Text("soon"), expires_after=60)
    assert expiring.expires == mimi.Expiration(False, 1_644_387_225 + 60)
    a = model.Attachment("accord-blob:x", bytes(32), bytes(range(32)), 5, "image/png", "a.png")
    files = _mapped(model.Text("look", attachments=(a,)))
    assert isinstance(files.body, mimi.MultiPart) and files.body.semantics == 2
    ext = files.body.parts[1]
    assert isinstance(ext, mimi.ExternalPart)
    assert (ext.disposition, ext.url, ext.size, ext.enc_alg, ext.content_hash, ext.filename) == \
        (6, "accord-blob:x", 5, ACCORD_STREAM_AEAD, bytes(range(32)), "a.png")


def test_references_to_messages_never_seen_cannot_be_sent() -> None:
    with pytest.raises(ValidationError, match="no MIMI ID known"):
        to_mimi(model.Content(model.Header(bytes(16), 0, 0),
                              model.Text("re", reply_to=bytes(16))), MemoryIndex(), ALICE, ROOM)


def _example(name: str) -> tuple[mimi.MimiContent, bytes]:
    data = (EXAMPLES / f"{name}.cbor").read_bytes()
    content = mimi.decode_content(data)
    assert content.sender_uri and content.room_uri
    return content, mimi.message_id(data, content.sender_uri, content.room_uri)


def test_the_drafts_conversation_reads_as_accord_kinds() -> None:
    index = MemoryIndex()
    seen: dict[str, model.Content | Unsupported | NoEffect] = {}
    for name in ("original", "reply", "reaction", "mention", "edit", "delete", "unlike"):
        m, mid = _example(name)
        result = from_mimi(m, index, received_at=1_644_387_225_019)
        seen[name] = result
        assert isinstance(result, model.Content), (name, result)
        index.record(result, mid)
    original = seen["original"]
    assert isinstance(original, model.Content) and isinstance(original.body, model.Text)
    assert original.body.text.startswith("Hi everyone")  # markdown kept as its source (7.1)
    assert original.body.markdown
    assert original.header.sent_at == 1_644_387_225_019  # no "accord" extension: hub time
    reply = seen["reply"].body  # type: ignore[union-attr]
    assert reply == model.Text("Right on! _Congratulations_ 'all!", original.message_id,
                               markdown=True)
    assert seen["reaction"].body == model.Reaction(original.message_id, "\u2764")  # type: ignore[union-attr]
    reply_id = seen["reply"].message_id  # type: ignore[union-attr]
    assert seen["edit"].body == model.Edit(reply_id, "Right on! _Congratulations_ y'all!")  # type: ignore[union-attr]
    assert seen["delete"].body == model.Delete(reply_id)  # type: ignore[union-attr]
    assert seen["unlike"].body == model.Reaction(original.message_id, "\u2764", True)  # type: ignore[union-attr]
    text = seen["mention"].body.text  # type: ignore[union-attr]
    assert mentions(text) == ("mimi://example.com/u/alice-smith",)


def test_alternatives_pick_the_first_accord_can_show() -> None:
    m, _ = _example("multipart-1")
    result = from_mimi(m, MemoryIndex(), received_at=0)
    assert isinstance(result, model.Content) and result.body == model.Text("# Welcome!",
                                                                             markdown=True)


def test_what_accord_cannot_show_is_unsupported_or_no_effect() -> None:
    attachment, _ = _example("attachment")  # AES-128-GCM, not Accord's blob format
    result = from_mimi(attachment, MemoryIndex(), received_at=0)
    assert isinstance(result, Unsupported) and "bigfile.mp4" in result.summary
    reaction, _ = _example("reaction")  # to a message this device never saw
    assert from_mimi(reaction, MemoryIndex(), received_at=0) == \
        NoEffect("refers to a message not seen here")
    original, _ = _example("original")
    for body, reason in [
        (mimi.SinglePart(1, "", "image/png", b"\x89PNG"), "unsupported content type"),
        (mimi.SinglePart(1, "", "text/plain;charset=latin1", b"x"), "unsupported content type"),
        (mimi.SinglePart(1, "", "text/plain", b"\xff"), "not UTF-8"),
        (mimi.SinglePart(1, "", "text/plain", b"bell\x07"), "outside Accord's limits"),
        (mimi.SinglePart(0, "", "application/vnd.accord.timer+cbor", b"\x18"), "malformed"),
        (mimi.NullPart(1), "cannot show"),
    ]:
        changed = mimi.MimiContent(original.salt, None, b"", None, None, {}, body)
        result = from_mimi(changed, MemoryIndex(), received_at=0)
        assert isinstance(result, Unsupported) and reason in result.reason, (body, result)


def test_unknown_disposition_is_read_as_render() -> None:
    original, _ = _example("original")
    body = mimi.SinglePart(99, "", "text/plain", b"hello")
    result = from_mimi(mimi.MimiContent(original.salt, None, b"", None, None, {}, body),
                       MemoryIndex(), received_at=0)
    assert isinstance(result, model.Content) and result.body == model.Text("hello")


def test_an_attachment_must_be_in_accords_blob_format() -> None:
    a = model.Attachment("accord-blob:x", bytes(32), bytes(32), 5, "image/png", "a.png")
    files = _mapped(model.Text("look", attachments=(a,)))
    assert isinstance(files.body, mimi.MultiPart)
    ext = files.body.parts[1]
    assert isinstance(ext, mimi.ExternalPart)
    for change in ({"enc_alg": 1}, {"key": bytes(16)}, {"nonce": bytes(12)}, {"aad": b""},
                   {"hash_alg": 2}):
        import dataclasses

        bad = dataclasses.replace(files, body=dataclasses.replace(
            files.body, parts=(files.body.parts[0], dataclasses.replace(ext, **change))))
        # 4.4 processAll: the text is shown, the part Accord cannot open said unsupported
        result = from_mimi(bad, MemoryIndex(), received_at=0)
        assert isinstance(result, model.Content), change
        assert result.body == model.Text("look\n[unsupported: image/png a.png]"), change
        alone = dataclasses.replace(bad, body=bad.body.parts[1])
        result = from_mimi(alone, MemoryIndex(), received_at=0)
        assert isinstance(result, Unsupported) and "blob format" in result.reason, change


def test_mentions() -> None:
    text = f"hi {mention('Bob', 'mimi://b.example/u/bob')} and [@x](https://e.example/u/x)"
    assert mentions(text) == ("mimi://b.example/u/bob",)
    # Section 9.6: the four forms of a mention of Alice, each found once.
    uri = "mimi://example.com/u/alice-smith"
    forms = f"<{uri}> [{uri}]({uri}) [@AliceSmith]({uri}) [Alice]({uri}) [room](mimi://e/r/x)"
    assert mentions(forms) == (uri,)
    assert len(mentions(f"<{uri}> [c](mimi://b.example/u/cathy)")) == 2
    with pytest.raises(ValidationError):
        mention("a]b", "mimi://b.example/u/bob")


def test_external_content_of_other_clients_opens_with_aes_gcm() -> None:
    key, nonce = bytes(range(16)), bytes(12)
    blob = AESGCM(key).encrypt(nonce, b"video bytes", b"")
    part = mimi.ExternalPart(6, "", "video/mp4", "https://e.example/v", 0, 11, 1, key, nonce,
                             b"", 1, hashlib.sha256(blob).digest(), "", "v.mp4")
    assert open_external(part, blob) == b"video bytes"
    with pytest.raises(CryptoError, match="hash"):
        open_external(part, blob[:-1] + bytes([blob[-1] ^ 1]))
    import dataclasses

    with pytest.raises(CryptoError, match="authenticate"):
        open_external(dataclasses.replace(part, aad=b"other"), blob)
    with pytest.raises(ValidationError, match="unsupported AEAD"):
        open_external(dataclasses.replace(part, enc_alg=3), blob)


@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_reader(data: bytes) -> None:
    try:
        m = mimi.decode_content(data)
    except DecodeError:
        return
    result = from_mimi(m, MemoryIndex(), received_at=0)
    assert isinstance(result, model.Content | Unsupported | NoEffect)


@given(mimi_contents)
def test_any_mimi_content_maps_or_is_refused_by_name(m: mimi.MimiContent) -> None:
    result = from_mimi(m, MemoryIndex(), received_at=0)
    assert isinstance(result, model.Content | Unsupported | NoEffect)
