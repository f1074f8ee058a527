"""A stranger's invitation waits unparsed until the person accepts it (T14, issue 18).

Spyware enters through parsers, and spam is its reconnaissance: before this,
a stranger's Welcome (its GroupSecrets, GroupInfo, ratchet tree, extensions
and every member's credential and KeyPackage) went through full MLS
processing before the person said yes. Now, when the provider lists the
Welcome's group as a message request (``consent.refresh``, before
anything is read), the device only stores the queue item as it came
(``defer``): no conversation and no group state exist until the accept;
``pending`` shows the request, named after the sender, with the preview of
its sealed first-contact request once checked (``accord.client.first_contact``;
the Welcome is not read for it). What arrives in that group before the accept (commits, proposals,
application messages) is stored the same way, unread, at most
``MAX_HELD`` items (``hold``). Accepting (``inbox.join_invitation``) parses
the Welcome and then the held items in their order; blocking drops them all,
parsed never.

The code a stranger reaches before Accept is listed in docs/THREATS.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client.conv_state import conv_id_of
from accord.errors import AccordError
from accord.wire import dumps
from accord.wire import messages as m

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

MAX_HELD = 500
MAX_ITEM_BYTES = 512 * 1024  # a hub takes up to 256 KiB per message


KEY = "invites"


def is_deferred(conv: dict[str, Any]) -> bool:
    return bool(conv["meta"].get("request", {}).get("deferred"))


def entries(dev: DeviceCore) -> dict[str, Any]:
    return dict(dev.store.get_json(KEY, {}))


def waiting(dev: DeviceCore, group_id: bytes | None) -> bool:
    return group_id is not None and group_id.hex() in entries(dev)


def defer(dev: DeviceCore, item: m.QueueItem, now: int) -> bool:
    """Keep a Welcome of a listed request unparsed; False if it is not one. No
    conversation exists until the accept: only this record, keyed by group id."""
    if item.group_id is None or waiting(dev, item.group_id):
        return False
    sender = dev.store.get_json("message_requests", {}).get(item.group_id.hex())
    if sender is None or dev.store.conversation_of_group(item.group_id) is not None:
        return False
    invites = entries(dev)
    invites[item.group_id.hex()] = {"from": sender, "at": now, "welcome": _packed(item),
                                    "held": []}
    dev.store.put_json(KEY, invites)
    return True


def hold(dev: DeviceCore, group_id: bytes, item: m.QueueItem) -> None:
    """Keep an item of a waiting request's group as it came (bounded), unread."""
    invites = entries(dev)
    entry = invites[group_id.hex()]
    if len(entry["held"]) < MAX_HELD and len(item.body) <= MAX_ITEM_BYTES:
        entry["held"].append(_packed(item))
        dev.store.put_json(KEY, invites)


def undecided(dev: DeviceCore) -> list[tuple[str, dict[str, Any]]]:
    """The waiting invitations whose sealed first-contact request is not decided yet."""
    return [(g, e) for g, e in entries(dev).items() if "first_contact" not in e]


def decided(dev: DeviceCore) -> set[str]:
    return {g for g, e in entries(dev).items() if "first_contact" in e}


def decide_first_contact(dev: DeviceCore, group_id: bytes, result: dict[str, Any]) -> None:
    """Keep what the sealed first-contact request said (``accord.client.first_contact``)."""
    invites = entries(dev)
    if group_id.hex() in invites:
        invites[group_id.hex()]["first_contact"] = result
        dev.store.put_json(KEY, invites)


def held_count(dev: DeviceCore, conv: dict[str, Any]) -> int:
    entry = entries(dev).get(conv["group_id"].hex())
    return len(entry["held"]) if entry else 0


def pending(dev: DeviceCore) -> list[dict[str, Any]]:
    """The waiting requests, shaped as conversations (none is in the store yet)."""
    out = []
    for gid_hex, e in sorted(entries(dev).items(), key=lambda kv: kv[1]["at"]):
        gid = bytes.fromhex(gid_hex)
        out.append({"conv_id": conv_id_of(gid), "group_id": gid, "name": e["from"],
                    "kind": "group", "created_at": e["at"],
                    "meta": {"active": True, "request": {
                        "from": e["from"], "state": "pending", "deferred": True,
                        "first_contact": e.get("first_contact")}}})
    return out


def find(dev: DeviceCore, name_or_id: str) -> dict[str, Any] | None:
    for conv in pending(dev):
        if name_or_id in (conv["conv_id"], conv["name"]):
            return conv
    return None


def accepted(dev: DeviceCore, group_id: bytes) -> None:
    """The request is answered: its invitation and its listing leave the store."""
    forget(dev, group_id)
    requests = dev.store.get_json("message_requests", {})
    requests.pop(group_id.hex(), None)
    dev.store.put_json("message_requests", requests)


def forget(dev: DeviceCore, group_id: bytes) -> None:
    invites = entries(dev)
    if invites.pop(group_id.hex(), None) is not None:
        dev.store.put_json(KEY, invites)


def failed(dev: DeviceCore, conv: dict[str, Any], what: str, exc: AccordError | None,
            now: int) -> None:
    """Keep a trace: an inactive conversation whose history says what failed."""
    meta = {"active": False, "request": dict(conv["meta"]["request"], state="failed",
                                               deferred=False)}
    if dev.store.conversation_of_group(conv["group_id"]) is None:
        dev.store.add_conversation(conv["conv_id"], conv["group_id"], conv["name"], "group",
                                   now, meta)
    dev.store.add_event(conv["conv_id"], now, "error",
                        {"what": what, "error": type(exc).__name__ if exc else "Mismatch"})


def _packed(item: m.QueueItem) -> str:
    return dumps(item).hex()
