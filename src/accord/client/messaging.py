"""Sending and receiving message content inside a conversation's MLS group.

Sending: ``accord.content`` builds the content and seals it as MIMI content
(draft-ietf-mimi-content-08), the body of every application message, franked
over its exact bytes; its references are MIMI message IDs found in the
conversation's index (``rooms``), and its own MIMI ID is recorded there. MLS
pads it (RFC 9420 6.3.1) and protects it with a Safe AAD holding the
franking tag (``frank_aad``) and the epoch tag (``accord_epoch_tag``,
``accord.privacy.franking``); the post goes to the hub with no session, signed
by the epoch's posting key (issue 11). The post's hash is remembered so that its
copy coming back from the hub is recognised and skipped.

Receiving opens the MIMI content against the MLS-authenticated sender and
room (a content naming anyone else is refused, draft 9.1), records its MIMI
ID, and applies the same effects the sender applied locally, after checking
who may do what: only a message's author edits or deletes it; only admins
rename or change admins. What Accord cannot show (unknown parts or types)
is kept as an ``unsupported`` message that says so; a message about one
never seen here has no effect. A different epoch tag for our own epoch is
a fork alert (T07).

Attachments are encrypted with a fresh key (``accord.content.attachment``),
uploaded in parts of at most ``PART_BYTES`` and referenced by a locator
listing the parts' capability ids.
"""

from __future__ import annotations

import functools
import hmac
import io
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, BinaryIO

from accord.client import consent, contacts, delivery, outbox, rooms
from accord.client.conv_state import mark_left, notice_changes_room
from accord.client.mls_session import Received, epoch_tag, split_identity
from accord.client.posting import count_sent, post_sealed, require_member
from accord.client.store import StoredMessage
from accord.content import (
    Attachment,
    BlobDecryptor,
    BlobEncryptor,
    Delete,
    Edit,
    Notice,
    NoticeKind,
    Reaction,
    ReadReceipt,
    Sealed,
    Text,
    TimerSetting,
    blob_layout,
    expires_at,
    make_content,
    new_attachment_key,
    open_content,
    seal,
)
from accord.content.mimi_map import NoEffect, Unsupported
from accord.content.model import BodyKinds, Content
from accord.errors import NotFound, ValidationError
from accord.privacy.franking import split_aad

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

PART_BYTES = 8 * 1024 * 1024  # per uploaded blob; the provider takes up to 16 MiB
READ_BYTES = 1024 * 1024
MAX_PARTS = 1024
LOCATOR_PREFIX = "accord-blob:"
# A history for a new device of our account (``history_transfer``): its type, and the
# profile key listing received ones to import after the sync.
HISTORY_TYPE = "application/vnd.accord.history+json"
HISTORY_INBOX = "history_inbox"
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


async def send_body(dev: DeviceCore, conv: dict[str, Any], body: BodyKinds, now: int, *,
                    confirmed: bool | Collection[str] = False, topic: bytes = b"") -> bytes:
    """Send one content body; its message id. Every encrypt-and-send of content goes
    through ``post_sealed``, so the key-change gate (``safety.check_before_send``) runs
    for every kind (texts, files, reactions, edits, deletions, receipts, timers,
    notices); ``confirmed`` is the person's answer to it (``KeyChangeUnconfirmed.accounts``).

    Texts, reactions, edits and deletions go through the outbox (issue 19): kept
    first, then attempted; when the provider cannot take them now they stay pending
    (``store.outbox_item``) and this returns normally. A final refusal is raised."""
    require_member(dev, conv)
    consent.require_accepted(conv)  # T14: answering is not accepting (issue 18)
    timer = conv["meta"].get("timer", 0) if isinstance(body, Text) else 0
    content = make_content(body, random_bytes=dev.random_bytes, sent_at=now,
                           expires_after=timer, topic=topic)
    sealed = await seal_for(dev, conv, content)
    if outbox.queued(body):
        # The gate answers before anything is kept: a refused send leaves nothing behind.
        accepted = outbox.named_accounts(dev, conv, now, confirmed)
        ident = dev.identity
        with dev.store.transaction():  # kept and shown (pending) at once
            apply(dev, conv, content, ident.account, ident.device_id, now,
                  mimi_id=sealed.mimi_id)
            outbox.enqueue(dev, conv["conv_id"], content, sealed, now, accepted)
        # Earlier items of the conversation go first; the person's confirmation
        # covers those held back by the same key change.
        failure = (await outbox.flush(dev, now, conv_id=conv["conv_id"], force=True,
                                      confirmed=accepted)).get(content.message_id)
        item = dev.store.outbox_item(content.message_id)
        if failure is not None and item is not None and item.state in ("failed", "held"):
            raise failure  # final, or a question for the person: said now (kept, shown)
        return content.message_id
    await post_sealed(dev, conv, sealed.plaintext, now, confirmed=confirmed)
    ident = dev.identity
    with dev.store.transaction():
        apply(dev, conv, content, ident.account, ident.device_id, now, mimi_id=sealed.mimi_id)
        count_sent(dev, conv["conv_id"])
    return content.message_id


async def seal_for(dev: DeviceCore, conv: dict[str, Any], content: Content) -> Sealed:
    """``content`` as the MIMI body this device sends into ``conv``."""
    await rooms.learn_hub(dev, conv["group_id"])
    return seal(content, rooms.index(dev, conv), rooms.sender_uri(dev.identity.account),
                rooms.room_uri(dev, conv["group_id"]))


async def send_text(dev: DeviceCore, conv: dict[str, Any], text: str, now: int,
                    reply_to: bytes | None = None,
                    attachments: tuple[Attachment, ...] = (), *,
                    confirmed: bool | Collection[str] = False, markdown: bool = False,
                    topic: bytes = b"") -> bytes:
    """A text (GFM-MIMI markdown when ``markdown``), in ``topic`` when given (MIMI's
    topicId: an opaque grouping of messages)."""
    return await send_body(dev, conv, Text(text, reply_to, attachments, markdown), now,
                           confirmed=confirmed, topic=topic)


async def react(dev: DeviceCore, conv: dict[str, Any], target: bytes, emoji: str, now: int,
                remove: bool = False, *, confirmed: bool | Collection[str] = False) -> bytes:
    dev.store.message(target)
    return await send_body(dev, conv, Reaction(target, emoji, remove), now, confirmed=confirmed)


async def edit(dev: DeviceCore, conv: dict[str, Any], target: bytes, text: str, now: int, *,
               confirmed: bool | Collection[str] = False) -> bytes:
    if dev.store.message(target).sender != dev.identity.account:
        raise ValidationError("you can only edit your own messages")
    return await send_body(dev, conv, Edit(target, text), now, confirmed=confirmed)


async def delete(dev: DeviceCore, conv: dict[str, Any], target: bytes, now: int, *,
                 confirmed: bool | Collection[str] = False) -> bytes:
    if dev.store.message(target).sender != dev.identity.account:
        raise ValidationError("you can only delete your own messages")
    return await send_body(dev, conv, Delete(target), now, confirmed=confirmed)


async def set_timer(dev: DeviceCore, conv: dict[str, Any], seconds: int, now: int) -> bytes:
    return await send_body(dev, conv, TimerSetting(seconds), now)


async def mark_read(dev: DeviceCore, conv: dict[str, Any], now: int) -> int:
    """Send one read receipt for every message of others not yet receipted."""
    if consent.is_pending(conv):
        return 0  # T14: reading a request tells its sender nothing (issue 18)
    me = dev.identity.account
    index = rooms.index(dev, conv)  # a receipt names MIMI IDs: of messages whose ID is known
    unread = [x for x in dev.store.messages(conv["conv_id"])
              if x.sender != me and not x.deleted and not x.meta.get("receipt_sent")
              and index.mimi_id(x.msg_id) is not None]
    if not unread or not conv["meta"].get("active", True):
        return 0
    ids = tuple(x.msg_id for x in unread[-256:])
    await send_body(dev, conv, ReadReceipt(ids), now)
    for x in unread:
        dev.store.update_message_meta(x.msg_id, dict(x.meta, receipt_sent=True))
    return len(ids)


# -- attachments -------------------------------------------------------------------


async def send_file(dev: DeviceCore, conv: dict[str, Any], data: bytes, file_name: str,
                    media_type: str, now: int, text: str = "", reply_to: bytes | None = None,
                    progress: Progress | None = None, *,
                    confirmed: bool | Collection[str] = False) -> bytes:
    return await send_file_stream(dev, conv, io.BytesIO(data), len(data), file_name,
                                  media_type, now, text, reply_to, progress,
                                  confirmed=confirmed)


async def send_file_stream(dev: DeviceCore, conv: dict[str, Any], reader: BinaryIO, size: int,
                           file_name: str, media_type: str, now: int, text: str = "",
                           reply_to: bytes | None = None,
                           progress: Progress | None = None, *,
                           confirmed: bool | Collection[str] = False) -> bytes:
    """Encrypt ``size`` bytes from ``reader`` chunk by chunk, upload in parts, send the
    reference. Memory stays at about one part, whatever the file size."""
    key = new_attachment_key(dev.random_bytes)
    enc = BlobEncryptor(key, size)
    total = blob_layout(size).blob_size
    pending = bytearray()
    ids: list[str] = []
    for _ in range(size // READ_BYTES + 2):
        chunk = reader.read(READ_BYTES)
        if not chunk:
            break
        pending += enc.update(chunk)
        while len(pending) >= PART_BYTES:
            await _upload_part(dev, pending, ids, total, progress)
    pending += enc.finish()  # a short read is a ValidationError here
    while pending:
        await _upload_part(dev, pending, ids, total, progress)
    assert enc.sha256 is not None
    att = Attachment(LOCATOR_PREFIX + ",".join(ids), key, enc.sha256, size, media_type,
                     file_name)
    return await send_text(dev, conv, text, now, reply_to, (att,), confirmed=confirmed)


async def _upload_part(dev: DeviceCore, pending: bytearray, ids: list[str], total: int,
                       progress: Progress | None) -> None:
    created = await dev.api.upload_blob(bytes(pending[:PART_BYTES]))
    del pending[:PART_BYTES]
    ids.append(created.blob_id)
    if progress is not None:
        progress(min(len(ids) * PART_BYTES, total), total)


def _attachment(dev: DeviceCore, msg_id: bytes, index: int) -> tuple[dict[str, Any], list[str]]:
    atts = dev.store.message(msg_id).meta.get("attachments", [])
    if not 0 <= index < len(atts):
        raise NotFound("no such attachment")
    a = atts[index]
    if not a["locator"].startswith(LOCATOR_PREFIX):
        raise ValidationError("unknown attachment locator")
    parts = a["locator"][len(LOCATOR_PREFIX):].split(",")
    if len(parts) > MAX_PARTS:
        raise ValidationError("too many parts in an attachment locator")
    return a, parts


async def fetch_attachment(dev: DeviceCore, msg_id: bytes, index: int = 0,
                           progress: Progress | None = None) -> tuple[str, bytes]:
    """``(file_name, plaintext)`` of an attachment: download, check the hash, decrypt."""
    out = io.BytesIO()
    name = await fetch_attachment_to(dev, msg_id, out, index, progress)
    return name, out.getvalue()


async def fetch_attachment_to(dev: DeviceCore, msg_id: bytes, writer: BinaryIO, index: int = 0,
                              progress: Progress | None = None) -> str:
    """Download part by part into ``writer``; the file name. What was written is only
    trustworthy once this returns (the hash and the last chunk are checked at the end):
    callers write to a temporary file and rename it on success."""
    a, parts = _attachment(dev, msg_id, index)
    dec = BlobDecryptor(bytes.fromhex(a["key"]), a["size"], bytes.fromhex(a["sha256"]))
    total = blob_layout(a["size"]).blob_size
    done = 0
    for blob_id in parts:
        chunk = await dev.api.download_blob(blob_id)
        done += len(chunk)
        writer.write(dec.update(chunk))
        if progress is not None:
            progress(min(done, total), total)
    writer.write(dec.finish())  # CryptoError: truncated, tampered, or not the sent blob
    return str(a["file_name"])


# -- receiving ------------------------------------------------------------------------


def receive(dev: DeviceCore, conv: dict[str, Any], r: Received, created_at: int, now: int) -> None:
    aad = split_aad(r.authenticated_data)
    assert r.plaintext is not None
    account, device = split_identity(r.sender)
    opened = open_content(r.plaintext, aad.franking_tag, rooms.index(dev, conv),
                          sender_uri=rooms.sender_uri(account),
                          room_uri=rooms.room_uri(dev, conv["group_id"]), received_at=created_at)
    state = dev.store.load_group(conv["group_id"])
    if aad.epoch_tag is not None and r.epoch == dev.engine.epoch(state) and not \
            hmac.compare_digest(aad.epoch_tag, epoch_tag(dev.engine, state)):
        dev.store.add_event(conv["conv_id"], now, "security",
                            {"what": "a member sees a different group state (fork?)",
                             "epoch": r.epoch})
    extra: dict[str, Any] = {"server_time": created_at}
    if aad.franking_tag is not None:
        extra["franking_tag"] = aad.franking_tag.hex()
    if isinstance(opened.content, Unsupported):
        _unsupported(dev, conv, opened.content, opened.message_id, opened.mimi_id, account,
                     device, created_at, now, extra)
    elif not isinstance(opened.content, NoEffect):  # about a message never seen: nothing
        apply(dev, conv, opened.content, account, device, now, extra, mimi_id=opened.mimi_id)


MAX_SUMMARY = 200


def _unsupported(dev: DeviceCore, conv: dict[str, Any], what: Unsupported, msg_id: bytes,
                 mimi_id: bytes, account: str, device: str, created_at: int, now: int,
                 extra: dict[str, Any]) -> None:
    """A message Accord cannot show: kept as one that says so (draft 9.1), never acted on."""
    if not dev.store.mimi_record(conv["conv_id"], msg_id, mimi_id, account):
        return
    summary = " ".join(what.summary.split())[:MAX_SUMMARY]
    dev.store.add_message(StoredMessage(
        msg_id, conv["conv_id"], account, device, created_at, now, "unsupported",
        f"unsupported content ({what.reason}): {summary}", None, False, False, None,
        dict(extra, reactions={}, read_by=[])))


def apply(dev: DeviceCore, conv: dict[str, Any], content: Content, account: str, device: str,
          now: int, extra: dict[str, Any] | None = None, *, mimi_id: bytes) -> None:
    """The effect of one content, sent by ``account``/``device`` (us included), whose
    MIMI message ID is ``mimi_id``: recorded first, a redelivery has no effect."""
    if not rooms.index(dev, conv).record(content, mimi_id, account):
        return
    body = content.body
    cid = conv["conv_id"]
    delivery.note(dev, cid, content, account)  # a delivery report owed, for a text only
    if isinstance(body, Text):
        meta: dict[str, Any] = dict(extra or {}, reactions={}, read_by=[])
        meta["attachments"] = [_attachment_meta(a) for a in body.attachments]
        meta.update(rooms.text_meta(dev, conv, content))
        dev.store.add_message(StoredMessage(
            content.message_id, cid, account, device, content.header.sent_at, now,
            "file" if body.attachments else "text", body.text, body.reply_to, False, False,
            expires_at(content), meta))
        if body.attachments and device != dev.identity.device_id:
            _note_history(dev, content.message_id, account,
                          [a.media_type for a in body.attachments])
    elif isinstance(body, Reaction):
        _react(dev, body, account)
    elif isinstance(body, Edit | Delete):
        _edit_or_delete(dev, body, account)
    elif isinstance(body, ReadReceipt):
        for mid in body.message_ids:
            _update_meta(dev, mid, functools.partial(_add_reader, account=account))
        for mid in body.delivered:
            _update_meta(dev, mid, functools.partial(_add_reader, account=account,
                                                     key="delivered_to"))
    elif isinstance(body, TimerSetting):
        _set_conv_meta(dev, cid, timer=body.seconds)
        dev.store.add_event(cid, now, "timer", {"by": account, "seconds": body.seconds})
    elif isinstance(body, Notice):
        _notice(dev, cid, body, account, now)


def _note_history(dev: DeviceCore, msg_id: bytes, account: str, media_types: list[str]) -> None:
    """Remember a history attachment from our own account, to import after this sync
    (``history_transfer.import_received``)."""
    if account != dev.identity.account or HISTORY_TYPE not in media_types:
        return
    kept = dev.store.get_json(HISTORY_INBOX, [])
    dev.store.put_json(HISTORY_INBOX, [*kept, msg_id.hex()][-16:])


def _attachment_meta(a: Attachment) -> dict[str, Any]:
    # The key stays in the encrypted profile; it is never printed.
    return {"locator": a.locator, "key": a.key.hex(), "sha256": a.ciphertext_sha256.hex(),
            "size": a.size, "media_type": a.media_type, "file_name": a.file_name}


def _update_meta(dev: DeviceCore, msg_id: bytes, change: Callable[[dict[str, Any]], None]) -> None:
    try:
        msg = dev.store.message(msg_id)
    except NotFound:
        return  # about a message we never saw (or that expired)
    meta = dict(msg.meta)
    change(meta)
    dev.store.update_message_meta(msg_id, meta)


def _add_reader(meta: dict[str, Any], account: str, key: str = "read_by") -> None:
    meta[key] = sorted(set(meta.get(key, [])) | {account})


def _react(dev: DeviceCore, body: Reaction, account: str) -> None:
    def change(meta: dict[str, Any]) -> None:
        reactions = dict(meta.get("reactions", {}))
        who = set(reactions.get(body.emoji, []))
        who = who - {account} if body.remove else who | {account}
        reactions[body.emoji] = sorted(who)
        meta["reactions"] = {k: v for k, v in reactions.items() if v}

    _update_meta(dev, body.target, change)


def _edit_or_delete(dev: DeviceCore, body: Edit | Delete, account: str) -> None:
    try:
        target = dev.store.message(body.target)
    except NotFound:
        return
    if target.sender != account:
        return  # only the author edits or deletes a message
    if isinstance(body, Edit):
        dev.store.edit_message(body.target, body.text)
    else:
        dev.store.delete_message(body.target)


def _set_conv_meta(dev: DeviceCore, conv_id: str, **changes: Any) -> None:
    meta = dict(dev.store.conversation(conv_id)["meta"], **changes)
    dev.store.update_conversation(conv_id, meta=meta)


def _notice(dev: DeviceCore, cid: str, body: Notice, account: str, now: int) -> None:
    conv = dev.store.conversation(cid)
    meta = conv["meta"]
    admins = meta.get("admins", [])
    # The first announcement a new member sees is the room as it is (sent by whoever
    # added it), not a change by that member: no "renamed" event credited to them.
    first = not meta.get("admins_known")
    trusted = first or account in admins
    if body.kind == NoticeKind.MEMBER_LEFT and body.subject == account:
        mark_left(dev, cid, account, now)
    elif body.kind == NoticeKind.PROFILE_NAME:
        contacts.on_profile_name(dev, account, body.subject)
    elif body.kind not in (NoticeKind.RENAMED, NoticeKind.ADMINS_CHANGED):
        return
    elif not trusted and not notice_changes_room(conv, body.kind, body.subject):
        return  # a non-admin restating the room (adding its own device): allowed, no-op
    elif not trusted:
        dev.store.add_event(cid, now, "security",
                            {"what": f"{account} tried to change the room without being an admin"})
    elif body.kind == NoticeKind.RENAMED:
        if conv["name"] != body.subject:
            dev.store.update_conversation(cid, name=body.subject)
            if not first:
                dev.store.add_event(cid, now, "renamed", {"by": account, "name": body.subject})
    else:
        new = sorted(a for a in body.subject.split(",") if a)
        if new != admins and not first:
            dev.store.add_event(cid, now, "admins", {"by": account, "admins": new})
        _set_conv_meta(dev, cid, admins=new, admins_known=True)
