"""What a device does after each sync: the duties no message asks for.

- disappearing messages whose timer ended are erased;
- members who announced that they left are removed (by a commit);
- devices this device linked to the account join every conversation, and
  get the recent history (``history_transfer``);
- a periodic update of our own leaf (forward secrecy and post-compromise
  security, T09) after ``Settings.update_every_messages`` sent messages or
  ``Settings.update_every_ms``;
- delivery reports owed for texts received are sent (``delivery``);
- KeyPackages are topped up.

Each duty is bounded by the number of conversations; a failing duty is
recorded as an event and does not stop the others.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from accord.client import (
    consent,
    delivery,
    device_replace,
    history_transfer,
    message_requests,
    messaging,
    overview,
)
from accord.client import conversations as convs
from accord.client.mls_session import identity_of, split_identity
from accord.client.safety import KeyChangeUnconfirmed
from accord.errors import AccordError

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

LINK_RETRY_MS = 60_000


async def run(dev: DeviceCore, now: int) -> None:
    dev.store.expire_messages(now)
    linked = set(dev.store.get_json("linked", []))
    for conv in dev.store.conversations():
        if (not conv["meta"].get("active", True) or conv["meta"].get("reinit")
                or consent.is_pending(conv)):
            # out of the group, its ReInit's new group is yet to come, or a pending
            # message request (T14: nothing is sent for it, issue 18)
            continue
        try:
            await _conversation_duties(dev, conv, linked, now)
        except AccordError as exc:
            dev.store.add_event(conv["conv_id"], now, "error",
                                {"what": "a maintenance commit failed",
                                 "error": type(exc).__name__})
    if device_replace.due(dev, now):
        try:
            await device_replace.refresh(dev, now)  # dead leaves out, restored devices in
        except AccordError as exc:
            dev.store.put_json("devices_refresh_error", type(exc).__name__)
    # A device of ours whose key is not in our log (T05): the key-change gate holds the
    # history back (its alert is shown); the rest of the sync goes on.
    with contextlib.suppress(KeyChangeUnconfirmed):
        await history_transfer.send_pending(dev, now)
    await history_transfer.import_received(dev, now)
    await message_requests.reconcile(dev, now)  # T14: accepted on another device
    await message_requests.refresh_blocks(dev, now)  # T14: blocks made on other devices
    await message_requests.follow_consent(dev, now)  # T14: our consent requests answered
    await dev.top_up_key_packages(now)


async def _conversation_duties(dev: DeviceCore, conv: dict[str, Any], linked: set[str],
                               now: int) -> None:
    state = dev.store.load_group(conv["group_id"])
    present = {mb.identity for mb in dev.engine.members(state)}
    left = set(conv["meta"].get("left", []))
    gone = [i for i in present if split_identity(i)[0] in left]
    if gone:
        await convs.remove_devices(dev, conv, gone, now)
    account = dev.identity.account
    missing = any(identity_of(account, d) not in present for d in linked)
    # A claim takes a KeyPackage from each of our devices: while a linked device has
    # published none, try again only every LINK_RETRY_MS rather than at every sync.
    due = missing and now - conv["meta"].get("link_tried_at", 0) >= LINK_RETRY_MS
    if due and not await convs.add_members(dev, conv, [account], now):
        meta = dict(dev.store.conversation(conv["conv_id"])["meta"], link_tried_at=now)
        dev.store.update_conversation(conv["conv_id"], meta=meta)
    conv = dev.store.conversation(conv["conv_id"])
    with contextlib.suppress(KeyChangeUnconfirmed):  # the gate holds it, like any post
        await overview.announce_name(dev, conv, now)  # issue 19: new members learn it
    conv = dev.store.conversation(conv["conv_id"])
    await delivery.send_due(dev, conv, now, messaging.send_body)  # issue 22
    conv = dev.store.conversation(conv["conv_id"])
    s = dev.settings
    meta = conv["meta"]
    if (meta.get("sent_since_update", 0) >= s.update_every_messages
            or now - meta.get("last_update", now) >= s.update_every_ms):
        await convs.commit(dev, conv, now, update=True)


async def remove_device(dev: DeviceCore, device_id: str, now: int) -> int:
    """Remove one of our account's devices at the provider and from every conversation."""
    ident = dev.identity
    if device_id == ident.device_id:
        raise AccordError("a device does not remove itself; remove it from another device")
    await dev.api.remove_device(device_id)
    dev.store.put_json("linked", [d for d in dev.store.get_json("linked", []) if d != device_id])
    dev.store.put_json("history_pending",
                       [d for d in dev.store.get_json("history_pending", []) if d != device_id])
    n = 0
    for conv in dev.store.conversations():
        if conv["meta"].get("active", True) and not consent.is_pending(conv):
            n += await convs.commit(dev, conv, now,
                                    remove=[identity_of(ident.account, device_id)])
    return n


async def link_device(dev: DeviceCore, code: str, now: int, *, send_history: bool = True) -> str:
    """Certify a new device of our account from its link code; its device id.

    It joins our conversations at the next sync after it has published
    KeyPackages (it does so as soon as it sees itself certified).
    """
    from accord.client.device_core import check_code_key

    key, possession = check_code_key(code)
    ident = dev.identity
    resp = await dev.api.add_device(ident.account, key, dev.sign, possession)
    dev.store.put_json("linked", sorted({*dev.store.get_json("linked", []), resp.device_id}))
    if send_history:
        pending = dev.store.get_json("history_pending", [])
        dev.store.put_json("history_pending", sorted({*pending, resp.device_id}))
    return resp.device_id
