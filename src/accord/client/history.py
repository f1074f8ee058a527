"""A conversation's history as plain data: messages and events in time order.

The CLI and the demo render this; ``--json`` prints it as is. Attachment
keys stay out of it (only name, type and size), so printing a timeline
never shows a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client.store import StoredMessage
from accord.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from accord.client.device import Device

SHORT_ID = 8


def short_id(msg_id: bytes) -> str:
    return msg_id.hex()[:SHORT_ID]


def message_view(m: StoredMessage) -> dict[str, Any]:
    return {
        "type": "message", "id": m.msg_id.hex(), "short_id": short_id(m.msg_id),
        "at": m.sent_at, "received_at": m.received_at, "sender": m.sender, "device": m.sender_device,
        "text": m.body, "reply_to": m.reply_to.hex() if m.reply_to else None,
        "edited": m.edited, "deleted": m.deleted, "expires_at": m.expires_at,
        "reactions": m.meta.get("reactions", {}), "read_by": m.meta.get("read_by", []),
        "attachments": [{"file_name": a["file_name"], "media_type": a["media_type"],
                         "size": a["size"]} for a in m.meta.get("attachments", [])],
    }


def timeline(dev: Device, conv: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
    msgs = dev.store.messages(conv["conv_id"], limit)
    seqs = dev.store.seqs(conv["conv_id"])
    # Messages keep the store's order (the hub's delivery order); each event goes
    # after the messages this device had received when it happened. No clock
    # decides the order (a sender's clock is only a claim).
    keyed = [((seqs.get(m.msg_id, 0), 1, n), message_view(m)) for n, m in enumerate(msgs)]
    keyed += [((e["after_seq"], 2, n), {"type": "event", "at": e["at"], "kind": e["kind"],
                                        **e["detail"]})
              for n, e in enumerate(dev.store.events(conv["conv_id"]))]
    return [item for _, item in sorted(keyed, key=lambda k: k[0])]


def resolve_message(dev: Device, conv: dict[str, Any], prefix: str) -> bytes:
    """The message of ``conv`` whose hex id starts with ``prefix`` (unique)."""
    prefix = prefix.strip().lower()
    if len(prefix) < 4:
        raise ValidationError("give at least 4 characters of a message id")
    hits = [m.msg_id for m in dev.store.messages(conv["conv_id"], 100_000)
            if m.msg_id.hex().startswith(prefix)]
    if not hits:
        raise NotFound(f"no message {prefix} in this conversation")
    if len(hits) > 1:
        raise ValidationError(f"{prefix} matches several messages; give more characters")
    return hits[0]


def describe_event(e: dict[str, Any]) -> str:
    kind = e["kind"]
    texts = {
        "created": "{by} created the conversation",
        "joined": "you joined (with {members})",
        "member_added": "{by} added {account}",
        "member_removed": "{by} removed {account}",
        "device_added": "{by} added a device of {account} ({device})",
        "device_removed": "{by} removed a device of {account} ({device})",
        "device_replaced": "a device of {account} was replaced ({old} -> {new}; by {by})",
        "member_left": "{account} left",
        "left": "you left",
        "removed": "{by} removed you",
        "renamed": "{by} renamed the conversation to {name!r}",
        "admins": "{by} set the admins to {admins}",
        "timer": "{by} set disappearing messages to {seconds} s",
        "key_update": "{by} updated their keys",
        "reinit_started": "{by} is moving the conversation to cipher suite {cipher_suite}",
        "reinit": "the conversation now uses cipher suite {cipher_suite} (moved by {by})",
        "security": "SECURITY: {what}",
        "request": "message request from {account}: previews only until you accept",
        "request_accepted": "you accepted the message request from {account}",
        "error": "could not apply a message: {what} ({error})",
    }
    template = texts.get(kind, kind)
    try:
        return template.format(**{k: (", ".join(v) if isinstance(v, list) else v)
                                  for k, v in e.items()})
    except (KeyError, IndexError):
        return kind


def unread(dev: Device, conv: dict[str, Any]) -> int:
    """Messages of others this device has not receipted yet (``messaging.mark_read``)."""
    me = dev.identity.account
    return sum(1 for x in dev.store.messages(conv["conv_id"], 100_000)
               if x.sender != me and not x.deleted and not x.meta.get("receipt_sent"))


def preview(m: StoredMessage) -> str:
    if m.deleted:
        return "message deleted"
    files = [a["file_name"] for a in m.meta.get("attachments", [])]
    return m.body or (files[0] if files else "")


def summaries(dev: Device) -> list[dict[str, Any]]:
    """Accepted conversations for a list: unread count, last message, newest first."""
    from accord.client import message_requests

    rows = []
    for conv in dev.store.conversations():
        if message_requests.is_pending(conv):
            continue
        msgs = dev.store.messages(conv["conv_id"], 100_000)
        last = msgs[-1] if msgs else None
        rows.append({"id": conv["conv_id"], "name": conv["name"], "kind": conv["kind"],
                     "active": conv["meta"].get("active", True), "unread": unread(dev, conv),
                     "last": None if last is None else {
                         "sender": last.sender, "text": preview(last), "at": last.sent_at},
                     "activity": last.received_at if last else conv["created_at"]})
    return sorted(rows, key=lambda r: r["activity"], reverse=True)
