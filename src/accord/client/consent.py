"""Message requests on the device (T14): which conversations wait for consent.

The state the rest of the client consults: whether a conversation is a
pending request (``is_pending``; ``require_accepted`` is the rule that
nothing leaves the device for one, in one place), the provider's list of
requests (``refresh``), the decision when a conversation is joined
(``on_join``), the messages of a pending request held unread with a
preview only (``hold``, at most ``MAX_HELD``), and the blocked senders
(``is_blocked``). The person's answers (accept, block, report) and the
listings are ``accord.client.message_requests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import first_contact
from accord.client.conv_state import deactivate
from accord.client.mls_session import Received, split_identity
from accord.client.store import StoredMessage
from accord.content import quarantine_preview
from accord.errors import DecodeError, ValidationError
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

MAX_HELD = 500
# profile: the account's MIMI consent requests (5.7) as last listed, and whether one waits
CONSENT_SENT = "consent_sent"
PREVIEW_KIND = "request"


def is_pending(conv: dict[str, Any]) -> bool:
    return bool(conv["meta"].get("request", {}).get("state") == "pending")


def require_accepted(conv: dict[str, Any]) -> None:
    """T14: nothing leaves the device for a pending request until the person accepts."""
    if is_pending(conv):
        raise ValidationError("this conversation is a pending message request; accept it "
                              "(accord requests accept) or block it first", "T14 consent")


async def refresh(dev: DeviceCore) -> dict[str, str]:
    """The provider's pending requests, ``group_id hex -> from_account``, remembered."""
    from accord.wire import federation as fw  # ~12 ms; not on the send path

    listed = await dev.api._json(fw.MessageRequestList, "GET", "/v1/requests", auth=True)
    pending = {r.group_id.hex(): r.from_account for r in listed.requests}
    dev.store.put_json("message_requests", pending)
    first_contact.remember(dev, listed)
    return pending


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
        mine = domain_of(dev.identity.account)
        strangers = [a for a in others if domain_of(a) != mine]
        sender = (strangers or others or [dev.identity.account])[0]
    conv = dev.store.conversation(conv_id)
    meta = dict(conv["meta"], request={"from": sender, "state": "pending",
                                       "listed": listed is not None})
    dev.store.update_conversation(conv_id, meta=meta)
    dev.store.add_event(conv_id, now, "request", {"account": sender})
    if blocked_account(dev, sender):
        meta = dict(meta, request=dict(meta["request"], state="blocked"))
        dev.store.update_conversation(conv_id, meta=meta)
        deactivate(dev, dev.store.conversation(conv_id), now, dev.identity.account)


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


def is_blocked(dev: DeviceCore, sender_identity: bytes) -> bool:
    return blocked_account(dev, split_identity(sender_identity)[0])


def blocked_account(dev: DeviceCore, account: str) -> bool:
    targets = set(dev.store.get_json("blocks", {"targets": []})["targets"])
    return account in targets or domain_of(account) in targets


def consent_asked(dev: DeviceCore) -> None:
    """A claim was answered ``ConsentRequested``: the provider asked that user for consent;
    follow the account's requests until answered (``message_requests.follow_consent``)."""
    known = dev.store.get_json(CONSENT_SENT, {"requests": [], "at": 0})
    dev.store.put_json(CONSENT_SENT, dict(known, waiting=True, at=0))
