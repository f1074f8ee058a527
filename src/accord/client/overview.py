"""The inbox as people see it: conversation summaries, read position, archive and
local deletion, and telling conversations our display name.

A conversation's *read position* is the newest message position (``seq``) the
user has looked at on this device; messages of others after it are unread. It
is local and independent of read receipts (a user who turns receipts off
still has an unread count).

Display names (issue 19) are self-chosen and travel end to end encrypted: a
``Notice(PROFILE_NAME)`` inside the MLS application content of every
conversation (docs/PROTOCOL.md). A display name is a claim by its owner, so
it is always shown next to the address (``contacts.label``), never instead of
it; a nickname is the user's own word for a contact and may stand alone
(``contacts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import consent, contacts, invites, messaging
from accord.client import conversations as convs
from accord.client.history import preview
from accord.content import Notice, NoticeKind

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

def summaries(dev: DeviceCore, *, archived: bool | None = False) -> list[dict[str, Any]]:
    """Every conversation (archived ones only with ``archived=True``, all with
    None), newest activity first."""
    me = dev.identity.account
    rows = []
    for c in dev.store.conversations():
        meta = c["meta"]
        if archived is not None and bool(meta.get("archived")) != archived:
            continue
        unread, last, _ = dev.store.activity(c["conv_id"], me, int(meta.get("read_seq", 0)))
        active = meta.get("active", True)
        members = sorted(convs.members(dev, c)) if active else []
        newest = dev.store.latest_messages(c["conv_id"], 1)
        rows.append({
            "id": c["conv_id"], "name": c["name"], "kind": c["kind"], "active": active,
            "unread": unread, "last_activity": max(last, c["created_at"]),
            "members": members, "archived": bool(meta.get("archived")),
            "request": consent.is_pending(c),
            "last": {"sender": newest[0][1].sender, "text": preview(newest[0][1]),
                     "at": newest[0][1].sent_at} if newest else None,
            "request_from": meta.get("request", {}).get("from")
            if consent.is_pending(c) else None,
            **convs.suite_of(dev, c),  # T10: which cipher suite protects it
        })
    if archived is not True:
        rows += _waiting_requests(dev)
    rows.sort(key=lambda r: (-r["last_activity"], r["id"]))
    return rows


def _waiting_requests(dev: DeviceCore) -> list[dict[str, Any]]:
    """Requests whose Welcome waits unparsed until the accept (T14, ``invites``):
    no conversation exists yet; only the sender and the number of held items."""
    return [{"id": c["conv_id"], "name": c["name"], "kind": c["kind"], "active": True,
             "unread": invites.held_count(dev, c), "last_activity": c["created_at"],
             "members": [c["meta"]["request"]["from"]], "archived": False,
             "request": True, "request_from": c["meta"]["request"]["from"]}
            for c in invites.pending(dev)]


def mark_seen(dev: DeviceCore, conv: dict[str, Any]) -> None:
    """The user has looked at ``conv``: everything in it now is read."""
    _, _, newest = dev.store.activity(conv["conv_id"], dev.identity.account, 0)
    conv = dev.store.conversation(conv["conv_id"])
    dev.store.update_conversation(conv["conv_id"], meta=dict(conv["meta"], read_seq=newest))


def set_archived(dev: DeviceCore, conv: dict[str, Any], archived: bool) -> None:
    """Hide ``conv`` from the list (local only; it keeps receiving)."""
    conv = dev.store.conversation(conv["conv_id"])
    dev.store.update_conversation(conv["conv_id"], meta=dict(conv["meta"], archived=archived))


async def delete_local(dev: DeviceCore, conv: dict[str, Any], now: int) -> bool:
    """Forget ``conv`` on this device: its history and keys. A conversation we are
    still in is left first (else the others would keep encrypting to a device
    that throws everything away); True when it was left."""
    left = False
    if conv["meta"].get("active", True) and not consent.is_pending(conv):
        await convs.leave(dev, conv, now)
        left = True
    with dev.store.transaction():
        dev.store.drop_group(conv["group_id"])
        dev.store.drop_conversation(conv["conv_id"])
    return left


async def set_display_name(dev: DeviceCore, name: str, now: int) -> int:
    """Set our display name and tell every conversation we are active in (end to
    end encrypted); how many conversations were told. Conversations made or
    joined later, and members added later, are told by ``announce_name`` (run
    by housekeeping after each sync)."""
    dev.store.put_json("display_name", contacts.clean_name(name))
    told = 0
    for c in dev.store.conversations():
        if c["meta"].get("active", True) and not consent.is_pending(c):
            told += await announce_name(dev, c, now)
    return told


async def announce_name(dev: DeviceCore, conv: dict[str, Any], now: int) -> int:
    """Send our display name into ``conv`` unless its members (accounts) have all
    been told this name already; 1 when sent."""
    name = contacts.display_name(dev)
    if name is None:
        return 0
    accounts = sorted(convs.members(dev, conv))
    told = conv["meta"].get("name_told", {})
    if told.get("name") == name and set(accounts) <= set(told.get("accounts", [])):
        return 0
    await messaging.send_body(dev, conv, Notice(NoticeKind.PROFILE_NAME, name), now)
    conv = dev.store.conversation(conv["conv_id"])
    meta = dict(conv["meta"], name_told={"name": name, "accounts": accounts})
    dev.store.update_conversation(conv["conv_id"], meta=meta)
    return 1


