"""Encrypted transfer of recent history to a newly linked device of the same account.

The account's devices share a "note to self" conversation (an MLS group of
only their own leaves). After a device links a new one and the new one has
joined, the linking device exports the recent history of every conversation
as JSON, encrypts it like any attachment (fresh key, padded, T02) and sends
it in the note-to-self conversation. A device of the same account that
receives it imports the messages of the conversations it is in (message ids
deduplicate, so devices that already had them are unchanged). Nobody else
can read it: the other conversations' members are not in that group.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from accord.client import conversations as convs
from accord.client import messaging, rooms
from accord.client.messaging import HISTORY_INBOX, HISTORY_TYPE
from accord.client.mls_session import identity_of
from accord.client.store import StoredMessage
from accord.errors import AccordError, DecodeError

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

HISTORY_NAME = "history.json"
SELF_KIND = "self"
MAX_CONVERSATIONS = 100
MAX_MESSAGES = 200  # most recent, per conversation
FORMAT = 1
# Who renamed the room and set its admins, as the sending device recorded it: the new
# device saw only the announcement that restated the room when it was added.
ROOM_EVENTS = ("renamed", "admins")


def self_conversation(dev: DeviceCore) -> dict[str, Any] | None:
    for conv in dev.store.conversations():
        if conv["kind"] == SELF_KIND and conv["meta"].get("active", True):
            return conv
    return None


async def ensure_self_conversation(dev: DeviceCore, now: int) -> dict[str, Any]:
    conv = self_conversation(dev)
    if conv is None:
        conv = await convs.create(dev, "note to self", [], now, kind=SELF_KIND)
    return conv


def export(dev: DeviceCore) -> bytes:
    out = []
    for conv in dev.store.conversations()[:MAX_CONVERSATIONS]:
        if conv["kind"] == SELF_KIND:
            continue
        msgs = dev.store.messages(conv["conv_id"], 100_000)[-MAX_MESSAGES:]
        events = [{"at": e["at"], "kind": e["kind"], "detail": e["detail"]}
                  for e in dev.store.events(conv["conv_id"]) if e["kind"] in ROOM_EVENTS]
        out.append({"group_id": conv["group_id"].hex(), "name": conv["name"],
                    "messages": [_message_json(dev, m) for m in msgs if not m.deleted],
                    "events": events[-MAX_MESSAGES:]})
    return json.dumps({"format": FORMAT, "conversations": out}).encode()


def _message_json(dev: DeviceCore, m: StoredMessage) -> dict[str, Any]:
    return {"id": m.msg_id.hex(), "sender": m.sender, "device": m.sender_device,
            "sent_at": m.sent_at, "kind": m.kind, "body": m.body,
            "reply_to": m.reply_to.hex() if m.reply_to else None, "edited": m.edited,
            "expires_at": m.expires_at, "meta": m.meta,
            "mimi_id": rooms.exported_id(dev, m.conv_id, m.msg_id)}


async def send_pending(dev: DeviceCore, now: int) -> int:
    """Send the history to linked devices that joined the note-to-self group; how many."""
    pending = dev.store.get_json("history_pending", [])
    if not pending:
        return 0
    conv = await ensure_self_conversation(dev, now)
    account = dev.identity.account
    await convs.add_members(dev, conv, [account], now)
    present = {m.identity for m in dev.engine.members(dev.store.load_group(conv["group_id"]))}
    ready = [d for d in pending if identity_of(account, d) in present]
    if not ready:
        return 0
    await messaging.send_file(dev, dev.store.conversation(conv["conv_id"]), export(dev),
                              HISTORY_NAME, HISTORY_TYPE, now, text="history for a new device")
    dev.store.put_json("history_pending", [d for d in pending if d not in ready])
    return len(ready)


async def import_received(dev: DeviceCore, now: int) -> int:
    """Import every history this device received from its own account; messages added."""
    inbox = dev.store.get_json(HISTORY_INBOX, [])
    added = 0
    for mid_hex in inbox[:16]:
        try:
            _, data = await messaging.fetch_attachment(dev, bytes.fromhex(mid_hex))
            added += _import(dev, data, now)
        except (AccordError, ValueError, KeyError, TypeError):
            pass  # a bad or expired history is skipped; live messages are unaffected
    dev.store.put_json(HISTORY_INBOX, inbox[16:])
    return added


def _import(dev: DeviceCore, data: bytes, now: int) -> int:
    doc = json.loads(data)
    if doc.get("format") != FORMAT:
        raise DecodeError("unknown history format")
    added = 0
    for c in doc["conversations"][:MAX_CONVERSATIONS]:
        conv = dev.store.conversation_of_group(bytes.fromhex(c["group_id"]))
        if conv is None:
            continue  # a conversation this device is not in
        msgs = c["messages"][:MAX_MESSAGES]
        # History predates everything this new device received live: keep the
        # sender device's order, below the first live message.
        base = dev.store.first_seq(conv["conv_id"]) - len(msgs) - 1
        for i, m in enumerate(msgs):
            added += dev.store.add_message(StoredMessage(
                bytes.fromhex(m["id"]), conv["conv_id"], str(m["sender"]), str(m["device"]),
                int(m["sent_at"]), now, str(m["kind"]), str(m["body"]),
                bytes.fromhex(m["reply_to"]) if m["reply_to"] else None, bool(m["edited"]),
                False, m["expires_at"], dict(m["meta"], imported=True)), seq=base + i)
            rooms.import_id(dev, conv["conv_id"], bytes.fromhex(m["id"]), m.get("mimi_id"),
                            str(m["sender"]))
        _import_events(dev, conv["conv_id"], c.get("events", [])[:MAX_MESSAGES])
    return added


def _import_events(dev: DeviceCore, conv_id: str, events: list[dict[str, Any]]) -> None:
    have = {(e["at"], e["kind"], json.dumps(e["detail"], sort_keys=True))
            for e in dev.store.events(conv_id)}
    for e in events:
        kind, detail = str(e["kind"]), e["detail"]
        if kind not in ROOM_EVENTS or not isinstance(detail, dict):
            continue  # only the room's own history comes this way
        if detail.get("by") is not None and not isinstance(detail["by"], str):
            continue
        key = (int(e["at"]), kind, json.dumps(detail, sort_keys=True))
        if key not in have:
            have.add(key)
            dev.store.add_event(conv_id, int(e["at"]), kind, detail)
