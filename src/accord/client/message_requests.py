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
  it. ``consent.require_accepted`` is that rule, in one place.

What the rest of the client consults (pending or not, held, blocked) is
``accord.client.consent``; this module holds the person's answers and the
listings.

Accepting (``accept``, an explicit act of the person) tells the provider (the sender becomes a contact) and applies the held
messages in order as if they had just arrived. Blocking (``block``) puts the
sender or its whole domain on the provider's block list, forgets the
conversation's keys and drops what was held; nothing is sent to the group.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from accord.client import inbox, invites, messaging, rooms
from accord.client.consent import CONSENT_SENT, PREVIEW_KIND, is_pending, refresh
from accord.client.conv_state import deactivate
from accord.client.mls_session import Received
from accord.errors import AccordError, NotFound, ValidationError
from accord.wire import b64e
from accord.wire import privacy as w
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore


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


def pending(dev: DeviceCore) -> list[dict[str, Any]]:
    return [c for c in dev.store.conversations() if is_pending(c)] + invites.pending(dev)


def summary(dev: DeviceCore, conv: dict[str, Any]) -> dict[str, Any]:
    """What every face shows of a pending request: the sender (the provider's list),
    the plain-text previews (the checked sealed first contact, issue 18, or those of
    held messages), how many items wait unread, and why a sealed request was dropped."""
    request = conv["meta"]["request"]
    sealed = request.get("first_contact") or {}
    previews = [sealed["preview"]] if sealed.get("state") == "checked" and sealed["preview"] \
        else []
    previews += [m.body for m in dev.store.messages(conv["conv_id"]) if m.kind == PREVIEW_KIND]
    return {"chat": conv["name"], "conv_id": conv["conv_id"], "from": request["from"],
            "previews": previews, "waiting": invites.held_count(dev, conv),
            "dropped": sealed.get("reason") if sealed.get("state") == "dropped" else None}


async def accept(dev: DeviceCore, conv: dict[str, Any], now: int) -> int:
    """Accept the request; the number of held messages applied."""
    if not is_pending(conv):
        raise ValidationError("this conversation is not a pending message request")
    from accord.client import device_kt  # key transparency: ~0.1 s of imports, only here

    with contextlib.suppress(NotFound):  # accepted from another device already
        await dev.api._send("POST", f"/v1/requests/{b64e(conv['group_id'])}/accept",
                            auth=True)
    await rooms.learn_hub(dev, conv["group_id"])  # the room URI of the held messages' IDs
    applied = apply_held(dev, conv, now)
    # The Welcome was applied only now (issue 18): check the new members' keys at
    # once, as a sync does after it applies items (T05, T06), before any send.
    await device_kt.after_sync(dev, now)
    return applied


def apply_held(dev: DeviceCore, conv: dict[str, Any], now: int) -> int:
    cid = conv["conv_id"]
    if invites.is_deferred(conv):  # the Welcome itself waited (issue 18)
        with dev.store.transaction():  # the join and its event, whole or not at all
            applied = inbox.join_invitation(dev, conv, now)
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
    sender = conv["meta"].get("request", {}).get("from")
    if sender is None:
        raise ValidationError("this conversation is not a message request")
    target = domain_of(sender) if domain else sender
    await block_target(dev, target)
    cid = conv["conv_id"]
    if invites.is_deferred(conv):  # the Welcome and what followed: dropped unparsed
        invites.forget(dev, conv["group_id"])
        return target
    dev.store.delete("held:" + cid)
    dev.store.delete_messages(cid, PREVIEW_KIND)
    meta = dict(conv["meta"], request=dict(conv["meta"]["request"], state="blocked"))
    dev.store.update_conversation(cid, meta=meta)
    deactivate(dev, dev.store.conversation(cid), now, dev.identity.account)
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


# -- consent requests our provider sent (MIMI 5.7) ----------------------------------------
# A claim of another provider's user who gave no consent is answered ConsentRequested:
# the provider asked that user's provider. The person sees the requests and their state
# here; once one is granted, adding the user again claims its key material.

async def consent_sent(dev: DeviceCore) -> list[dict[str, Any]]:
    """The account's consent requests: target, room, state (pending, granted, revoked)."""
    from accord.wire import federation as fw  # ~12 ms; not on the send path

    listed = await dev.api._json(fw.ConsentSentList, "GET", "/v1/consent/sent", auth=True)
    return [{"target": r.target, "room": r.room, "state": r.state, "at": r.changed_at}
            for r in listed.requests]


CONSENT_EVERY_MS = 60_000


async def follow_consent(dev: DeviceCore, now: int) -> list[dict[str, Any]]:
    """While a consent request of the account waits (``consent.consent_asked``), list the
    requests every ``CONSENT_EVERY_MS`` and keep them in the profile (``CONSENT_SENT``);
    those answered since the last listing (``granted``: adding that user works now)."""
    known = dev.store.get_json(CONSENT_SENT, {"requests": [], "at": 0})
    if not known.get("waiting") or (known["at"] and now - known["at"] < CONSENT_EVERY_MS):
        return []
    before = {(r["target"], r["room"]): r["state"] for r in known["requests"]}
    listed = await consent_sent(dev)
    answered = [r for r in listed if r["state"] != "pending"
                and before.get((r["target"], r["room"]), "pending") == "pending"]
    dev.store.put_json(CONSENT_SENT, {"requests": listed, "at": now,
                                      "waiting": any(r["state"] == "pending" for r in listed)})
    return answered


def consent_kept(dev: DeviceCore) -> list[dict[str, Any]]:
    """The account's consent requests as this device last listed them (``follow_consent``),
    without asking the provider: what a face shows between syncs."""
    return list(dev.store.get_json(CONSENT_SENT, {"requests": []}).get("requests", []))


async def cancel_consent(dev: DeviceCore, target: str, room: str = "") -> None:
    """Withdraw a pending consent request the account sent (and forget it here)."""
    from accord.wire import federation as fw

    await dev.api._send("POST", "/v1/consent/sent/cancel",
                        body=fw.ConsentCancel(target=target, room=room), auth=True)
    known = dev.store.get_json(CONSENT_SENT, None)
    if known is not None:
        known["requests"] = [r for r in known.get("requests", [])
                             if (r["target"], r["room"]) != (target, room)]
        dev.store.put_json(CONSENT_SENT, known)
