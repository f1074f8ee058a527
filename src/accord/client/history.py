"""A conversation's history as plain data: messages and events in time order.

The CLI and the demo render this; ``--json`` prints it as is. Attachment
keys stay out of it (only name, type and size), so printing a timeline
never shows a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import delivery
from accord.client.store import StoredMessage
from accord.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

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
        "delivered_to": m.meta.get("delivered_to", []), "status": delivery.status(m.meta),
        "attachments": [{"file_name": a["file_name"], "media_type": a["media_type"],
                         "size": a["size"]} for a in m.meta.get("attachments", [])],
        # Our own message not yet delivered: "pending", "held" or "failed" (issue 19).
        "outbox": m.meta.get("outbox"),
        # MIMI content (issue 22): "text", "file", or "unsupported" (what Accord cannot
        # show, said in the text); a markdown (GFM-MIMI) source, its topic, its mentions.
        "kind": m.kind, "markdown": bool(m.meta.get("markdown")),
        "topic": m.meta.get("topic"), "mentions": m.meta.get("mentions", []),
    }


def timeline(dev: DeviceCore, conv: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
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


def timeline_page(dev: DeviceCore, conv: dict[str, Any], limit: int = 200,
                  before: int | None = None) -> dict[str, Any]:
    """The newest ``limit`` messages below position ``before``, with the events among
    them, in the order of :func:`timeline`; ``more`` when older ones exist."""
    page = dev.store.latest_messages(conv["conv_id"], limit + 1, before)
    more = len(page) > limit
    page = page[1:] if more else page
    low = page[0][0] if more and page else -1  # the first page also takes earlier events
    high = before if before is not None else 1 << 62
    keyed = [((seq, 1, n), {**message_view(m), "seq": seq}) for n, (seq, m) in enumerate(page)]
    keyed += [((e["after_seq"], 2, n), {"type": "event", "at": e["at"], "kind": e["kind"],
                                        **e["detail"]})
              for n, e in enumerate(dev.store.events(conv["conv_id"]))
              if low <= e["after_seq"] < high]
    return {"items": [item for _, item in sorted(keyed, key=lambda k: k[0])], "more": more,
            "first_seq": page[0][0] if page else None}


def resolve_message(dev: DeviceCore, conv: dict[str, Any], prefix: str) -> bytes:
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
        "rejoined": "restored: the conversation continues in a new group of this device"
                    " (cipher suite {cipher_suite})",
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


def preview(m: StoredMessage) -> str:
    if m.deleted:
        return "message deleted"
    files = [a["file_name"] for a in m.meta.get("attachments", [])]
    return m.body or (files[0] if files else "")

