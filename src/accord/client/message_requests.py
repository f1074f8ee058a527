"""Message requests (T14, client side): first contact from another provider's user.

The recipient's provider records a request when a stranger of another
provider invites the account (``accord.federation.consent``); the device
asks for the list whenever a Welcome arrives (``refresh``) and marks that
conversation as a pending request (``on_join``). Until the user accepts:

- what arrives in it is decrypted (MLS must advance) but never decoded as a
  content: only ``accord.content.quarantine_preview`` reads it (a one-line
  plain-text preview of a Text; no reply target, attachment or other kind);
  the padded plaintexts are held in the encrypted profile (at most
  ``MAX_HELD``);
- so no attachment reference is known and none is fetched;
- nothing leaves the device for it (issue 18): no message, reaction or read
  receipt (``messaging.send_body``), no commit (self-updates, our linked
  devices, ``conversations.commit``), no leave; reading it is not accepting
  it. ``require_accepted`` is that rule, in one place.

Accepting (``accept``, an explicit act of the person) tells the provider (the sender becomes a contact) and applies the held
messages in order as if they had just arrived. Blocking (``block``) puts the
sender or its whole domain on the provider's block list, forgets the
conversation's keys and drops what was held; nothing is sent to the group.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from accord.client.mls_session import Received, split_identity
from accord.client.store import StoredMessage
from accord.content import quarantine_preview
from accord.errors import AccordError, DecodeError, NotFound, ValidationError
from accord.wire import b64e
from accord.wire import privacy as w

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

MAX_HELD = 500
PREVIEW_KIND = "request"


async def refresh(dev: DeviceCore) -> dict[str, str]:
    """The provider's pending requests, ``group_id hex -> from_account``, remembered."""
    from accord.client import first_contact
    from accord.wire import federation as fw  # ~12 ms; not on the send path

    listed = await dev.api._json(fw.MessageRequestList, "GET", "/v1/requests", auth=True)
    pending = {r.group_id.hex(): r.from_account for r in listed.requests}
    dev.store.put_json("message_requests", pending)
    first_contact.remember(dev, listed)
    return pending


async def reconcile(dev: DeviceCore, now: int) -> int:
    """Apply the requests another device of the account accepted (the provider no
    longer lists them); how many. Asks the provider only while requests are pending."""
    # Only requests the provider listed can be accepted elsewhere: one the device
    # decided itself (an unnamed Welcome) is never listed.
    waiting = [c for c in pending(dev) if c["meta"]["request"].get("listed", True)]
    if not waiting:
        return 0
    listed = await refresh(dev)
    done = [c for c in waiting if c["group_id"].hex() not in listed]
    for conv in done:
        apply_held(dev, conv, now)
    return len(done)


def on_join(dev: DeviceCore, conv_id: str, group_id: bytes, now: int, inviter: str | None,
            others: list[str]) -> None:
    """Decide whether a conversation just joined is a message request (T14).

    A request when the provider lists one, and also when the Welcome does not name
    an inviter that is a member of the group (issue 17: an unnamed Welcome is never
    taken as accepted; its request is from the group's other members, first one of
    another provider). A request from a blocked user or domain is dropped at once.
    """
    listed = dev.store.get_json("message_requests", {}).get(group_id.hex())
    sender = listed or inviter
    if listed is None and inviter is not None:
        return
    if sender is None:
        mine = dev.identity.account.rsplit("@", 1)[-1]
        strangers = [a for a in others if a.rsplit("@", 1)[-1] != mine]
        sender = (strangers or others or [dev.identity.account])[0]
    conv = dev.store.conversation(conv_id)
    meta = dict(conv["meta"], request={"from": sender, "state": "pending",
                                       "listed": listed is not None})
    dev.store.update_conversation(conv_id, meta=meta)
    dev.store.add_event(conv_id, now, "request", {"account": sender})
    if _blocked_account(dev, sender):
        meta = dict(meta, request=dict(meta["request"], state="blocked"))
        dev.store.update_conversation(conv_id, meta=meta)
        from accord.client import conversations as convs

        convs.deactivate(dev, dev.store.conversation(conv_id), now, dev.identity.account)


def is_pending(conv: dict[str, Any]) -> bool:
    return bool(conv["meta"].get("request", {}).get("state") == "pending")


def require_accepted(conv: dict[str, Any]) -> None:
    """T14: nothing leaves the device for a pending request until the person accepts."""
    if is_pending(conv):
        raise ValidationError("this conversation is a pending message request; accept it "
                              "(accord requests accept) or block it first", "T14 consent")


def pending(dev: DeviceCore) -> list[dict[str, Any]]:
    from accord.client import invites

    return [c for c in dev.store.conversations() if is_pending(c)] + invites.pending(dev)


def summary(dev: DeviceCore, conv: dict[str, Any]) -> dict[str, Any]:
    """What every face shows of a pending request: the sender (the provider's list),
    the plain-text previews (the checked sealed first contact, issue 18, or those of
    held messages), how many items wait unread, and why a sealed request was dropped."""
    from accord.client import invites

    request = conv["meta"]["request"]
    sealed = request.get("first_contact") or {}
    previews = [sealed["preview"]] if sealed.get("state") == "checked" and sealed["preview"] \
        else []
    previews += [m.body for m in dev.store.messages(conv["conv_id"]) if m.kind == PREVIEW_KIND]
    return {"chat": conv["name"], "conv_id": conv["conv_id"], "from": request["from"],
            "previews": previews, "waiting": invites.held_count(dev, conv),
            "dropped": sealed.get("reason") if sealed.get("state") == "dropped" else None}


def hold(dev: DeviceCore, conv: dict[str, Any], r: Received, created_at: int, now: int) -> None:
    """Keep a message of a pending request unread; store only its preview."""
    assert r.plaintext is not None
    try:
        preview = quarantine_preview(r.plaintext)
    except DecodeError:
        preview = None
    if preview is not None and preview.kind == "readreceipt":
        # Nothing of ours is in a request for it to acknowledge; this is also how
        # the inviter's cover traffic arrives (T12): it must not fill the hold.
        return
    key = "held:" + conv["conv_id"]
    held = dev.store.get_json(key, [])
    if len(held) >= MAX_HELD:
        return  # a stranger cannot fill the device: the rest waits for nothing
    held.append({"sender": r.sender.hex(), "epoch": r.epoch, "plaintext": r.plaintext.hex(),
                 "aad": r.authenticated_data.hex(), "created_at": created_at})
    dev.store.put_json(key, held)
    if preview is None or preview.kind != "text":
        return
    account, device = split_identity(r.sender)
    dev.store.add_message(StoredMessage(
        preview.message_id, conv["conv_id"], account, device, preview.sent_at, now,
        PREVIEW_KIND, preview.text, None, False, False, None,
        {"request": True, "truncated": preview.truncated}))


async def accept(dev: DeviceCore, conv: dict[str, Any], now: int) -> int:
    """Accept the request; the number of held messages applied."""
    if not is_pending(conv):
        raise ValidationError("this conversation is not a pending message request")
    from accord.client import device_kt

    with contextlib.suppress(NotFound):  # accepted from another device already
        await dev.api._send("POST", f"/v1/requests/{b64e(conv['group_id'])}/accept",
                            auth=True)
    applied = apply_held(dev, conv, now)
    # The Welcome was applied only now (issue 18): check the new members' keys at
    # once, as a sync does after it applies items (T05, T06), before any send.
    await device_kt.after_sync(dev, now)
    return applied


def apply_held(dev: DeviceCore, conv: dict[str, Any], now: int) -> int:
    from accord.client import invites, messaging

    cid = conv["conv_id"]
    if invites.is_deferred(conv):  # the Welcome itself waited (issue 18)
        with dev.store.transaction():  # the join and its event, whole or not at all
            applied = invites.join(dev, conv, now)
            dev.store.add_event(cid, now, "request_accepted",
                                {"account": conv["meta"]["request"]["from"]})
        return applied
    meta = dict(conv["meta"], request=dict(conv["meta"]["request"], state="accepted"))
    dev.store.update_conversation(cid, meta=meta)
    dev.store.delete_messages(cid, PREVIEW_KIND)
    conv = dev.store.conversation(cid)
    applied = 0
    for h in dev.store.get_json("held:" + cid, []):
        r = Received(b"", "application", bytes.fromhex(h["sender"]), int(h["epoch"]),
                     bytes.fromhex(h["plaintext"]), bytes.fromhex(h["aad"]))
        try:
            messaging.receive(dev, conv, r, int(h["created_at"]), now)
            applied += 1
        except AccordError as exc:
            dev.store.add_event(cid, now, "error", {"what": "a held message could not be applied",
                                                    "error": type(exc).__name__})
    dev.store.delete("held:" + cid)
    dev.store.add_event(cid, now, "request_accepted", {"account": meta["request"]["from"]})
    return applied


async def block(dev: DeviceCore, conv: dict[str, Any], now: int, *, domain: bool = False) -> str:
    """Block the request's sender (or its whole domain); the target blocked."""
    from accord.client import conversations as convs
    from accord.client import invites

    sender = conv["meta"].get("request", {}).get("from")
    if sender is None:
        raise ValidationError("this conversation is not a message request")
    target = sender.rsplit("@", 1)[-1] if domain else sender
    await block_target(dev, target)
    cid = conv["conv_id"]
    if invites.is_deferred(conv):  # the Welcome and what followed: dropped unparsed
        invites.forget(dev, conv["group_id"])
        return target
    dev.store.delete("held:" + cid)
    dev.store.delete_messages(cid, PREVIEW_KIND)
    meta = dict(conv["meta"], request=dict(conv["meta"]["request"], state="blocked"))
    dev.store.update_conversation(cid, meta=meta)
    convs.deactivate(dev, dev.store.conversation(cid), now, dev.identity.account)
    return target


async def report(dev: DeviceCore, conv: dict[str, Any], now: int) -> str:
    """Report the request to our provider unread (T13: it files the sender and the time
    it recorded; no content leaves the device), then block the sender (``block``).
    The sender blocked."""
    if not is_pending(conv):
        raise ValidationError("this conversation is not a pending message request")
    if not conv["meta"]["request"].get("listed", True):
        raise ValidationError("the provider holds no record of this request to report; "
                              "block it instead")
    await dev.api._json(w.ReportResult, "POST",
                        f"/v1/requests/{b64e(conv['group_id'])}/report", auth=True)
    return await block(dev, conv, now)


# -- blocks inside groups --------------------------------------------------------------
# Application messages have hidden senders (T11): the provider cannot drop a blocked
# user's posts in a group, so the device drops them, unread, after decryption.

BLOCKS_EVERY_MS = 300_000


async def block_target(dev: DeviceCore, target: str) -> list[str]:
    """Block a user or a domain at the provider; the account's block list."""
    from accord.wire import federation as fw  # ~12 ms; not on the send path

    listed = await dev.api._json(fw.BlockList, "POST", "/v1/blocks",
                                 body=fw.BlockRequest(target=target), auth=True)
    dev.store.put_json("blocks", {"targets": listed.targets, "at": 0})
    return listed.targets


async def refresh_blocks(dev: DeviceCore, now: int) -> None:
    """Follow the provider's block list (blocks made elsewhere), every BLOCKS_EVERY_MS."""
    known = dev.store.get_json("blocks", {"targets": [], "at": 0})
    if known["at"] and now - known["at"] < BLOCKS_EVERY_MS:
        return
    from accord.wire import federation as fw  # ~12 ms; not on the send path

    listed = await dev.api._json(fw.BlockList, "GET", "/v1/blocks", auth=True)
    dev.store.put_json("blocks", {"targets": listed.targets, "at": now})


def is_blocked(dev: DeviceCore, sender_identity: bytes) -> bool:
    return _blocked_account(dev, split_identity(sender_identity)[0])


def _blocked_account(dev: DeviceCore, account: str) -> bool:
    targets = set(dev.store.get_json("blocks", {"targets": []})["targets"])
    return account in targets or account.rsplit("@", 1)[-1] in targets
