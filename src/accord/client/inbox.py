"""Applying queue items to a device: Welcomes, commits, application messages.

Every item is applied in the provider's order, then the cursor moves past it
and the queue is acknowledged, in that order, so an item is never lost (a
crash before the ack replays it; duplicates are dropped by message id and by
epoch). An item applies whole or not at all: it runs in one transaction
with the cursor, and when it fails (tampered, for a group we left,
undecryptable, bad content) everything it wrote is rolled back, the fork
monitor's step included; then, in a transaction of their own, the failure
becomes an ``error`` event, the security alerts it raised are kept (they
are evidence about the hub, whatever became of the item), and the cursor
moves past it, so a bad item never stops the loop.

Membership and device changes become events (THREATS.md T05, visible side).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from accord.client import (
    alerts,
    consent,
    first_contact,
    fork_check,
    invites,
    messaging,
    reinit_state,
    report,
    rooms,
)
from accord.client.conv_state import (
    check_removal_policy,
    conv_id_of,
    deactivate,
    mark_left,
    roster_events,
)
from accord.client.mls_session import split_identity
from accord.client.store_db import ProfileUnavailable
from accord.errors import AccordError
from accord.wire import messages as m
from accord.wire import parse

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore


async def apply_items(dev: DeviceCore, items: list[m.QueueItem], now: int) -> int:
    applied = 0
    welcomed = any(i.kind == "welcome" and i.seq > dev.cursor for i in items)
    if welcomed:
        # T14: which invitations are message requests, before anything in them is read
        await consent.refresh(dev)
    for item in items:
        if item.seq <= dev.cursor:
            continue
        if item.kind == "application" and item.group_id is not None:
            await rooms.learn_hub(dev, item.group_id)  # its room URI (MIMI IDs, issue 22)
        elif item.kind in ("welcome", "commit") and item.chain is None and (
                item.group_id is not None):
            await rooms.learn_hub(dev, item.group_id)  # no link: over MIMI? (T07, issue 22)
        _apply_whole(dev, item, now)
        applied += 1
    if items:
        await dev.api.ack(dev.cursor)
    if welcomed:  # the previews of the requests' sealed first contact (issue 18)
        await first_contact.open_waiting(dev, now)
    return applied


def _apply_whole(dev: DeviceCore, item: m.QueueItem, now: int) -> None:
    """Apply ``item`` and move the cursor past it in one transaction; on a typed
    failure, roll all of it back, then record the failure on its own."""
    raised: list[dict[str, Any]] = []
    detach = alerts.subscribe(lambda store, a: raised.append(a) if store is dev.store else None)
    try:
        with dev.store.transaction():
            _apply_one(dev, item, now)
            dev.store.put_json("cursor", item.seq)
        return
    except ProfileUnavailable:
        raise  # the item is fine, the profile is not: it stays queued, unacknowledged
    except AccordError as exc:
        failure = exc
    finally:
        detach()
    with dev.store.transaction():
        for a in raised:
            alerts.keep(dev.store, a)
        fork_check.keep_events(dev, raised, now)  # and their history events (T07)
        conv = _conv_of(dev, item.group_id)
        if conv is not None:
            dev.store.add_event(conv["conv_id"], now, "error",
                                {"what": f"a {item.kind} could not be applied",
                                 "error": type(failure).__name__})
        dev.store.put_json("cursor", item.seq)


def _apply_one(dev: DeviceCore, item: m.QueueItem, now: int) -> None:
    # T14 (issue 18): a stranger's invitation and what follows it wait unparsed.
    if item.kind == "welcome" and invites.defer(dev, item, now):
        return
    if item.group_id is not None and invites.waiting(dev, item.group_id):
        if item.kind != "welcome":  # a second Welcome to the same request is dropped
            invites.hold(dev, item.group_id, item)
        return
    if item.kind == "welcome":
        _welcome(dev, item, now)
    elif item.kind == "commit":
        _commit(dev, item, now)
    elif item.kind == "application":
        _application(dev, item, now)
    elif item.kind == "proposal":
        _proposal(dev, item, now)


def _conv_of(dev: DeviceCore, group_id: bytes | None) -> dict[str, Any] | None:
    """The conversation in MLS group ``group_id`` (after a ReInit, not the group
    its id was made from)."""
    if group_id is None:
        return None
    return dev.store.conversation_of_group(group_id)


def _welcome(dev: DeviceCore, item: m.QueueItem, now: int) -> None:
    refs = dev.engine.welcome_key_package_refs(item.body)
    waiting = reinit_state.pending(dev)  # T10: the new group of a ReInit joins with the old one
    state = dev.engine.join(item.body, dev.key_package_privates(refs), now,
                            [old for _, old in waiting])
    for ref in refs:  # a KeyPackage is used once (RFC 9420 16.8), a last-resort one
        if not dev.is_last_resort(ref):  # until the device rotates it (issue 17)
            dev.store.delete("kp:" + ref.hex())
    group_id = dev.engine.group_id(state)
    fork_check.on_welcome(dev, state, item, now)  # the hub's chain starts here (T07)
    if reinit_state.on_welcome(dev, waiting, state, now):
        return
    conv_id = conv_id_of(group_id)
    me = dev.identity.account
    others = sorted({split_identity(mb.identity)[0] for mb in dev.engine.members(state)} - {me})
    existing = _conv_of(dev, group_id)
    if existing is not None:
        if existing["meta"].get("active", True):
            return  # a Welcome delivered twice
        # Added back after a removal: the history stays, the keys are new.
        dev.store.save_group(group_id, state, now)
        meta = dict(existing["meta"], active=True, sent_since_update=0, last_update=now)
        dev.store.update_conversation(conv_id, meta=meta)
        dev.store.add_event(conv_id, now, "joined", {"members": others})
        return
    dev.store.save_group(group_id, state, now)
    meta = {"admins": [], "admins_known": False, "timer": 0, "sent_since_update": 0,
            "last_update": now, "active": True}
    # A group of only our own devices is the account's note-to-self conversation.
    kind = "group" if others else "self"
    dev.store.add_conversation(conv_id, group_id, ", ".join(others) or "note to self",
                               kind, now, meta)
    dev.store.add_event(conv_id, now, "joined", {"members": others})
    consent.on_join(dev, conv_id, group_id, now, _inviter(dev, state, item), others)
    for account in others:
        dev.store.upsert_contact(account)


def _inviter(dev: DeviceCore, state: bytes, item: m.QueueItem) -> str | None:
    """The account of the member device the Welcome item names; None if it names
    none of the group's members (T14: such a Welcome is a message request)."""
    for member in dev.engine.members(state):
        account, device_id = split_identity(member.identity)
        if item.sender is not None and device_id == item.sender:
            return account
    return None


def join_invitation(dev: DeviceCore, conv: dict[str, Any], now: int) -> int:
    """After the accept of a waiting invitation (``invites``): parse the Welcome, then
    the held items; how many applied. Whole or nothing: the request leaves the store in
    the transaction that stores the join, so a profile that cannot be written (a full
    disk) keeps the invitation waiting, to be accepted again (``ProfileUnavailable``
    goes to the caller)."""
    gid = conv["group_id"]
    entry = invites.entries(dev)[gid.hex()]
    welcome = parse(m.QueueItem, bytes.fromhex(entry["welcome"]))
    held = [parse(m.QueueItem, bytes.fromhex(h)) for h in entry["held"]]
    with dev.store.transaction():
        invites.accepted(dev, gid)
        try:
            with dev.store.savepoint():
                _welcome(dev, welcome, now)
        except ProfileUnavailable:
            raise
        except AccordError as exc:  # the Welcome itself is bad: a trace, not the request
            invites.failed(dev, conv, "the invitation could not be joined", exc, now)
            return 0
        joined = dev.store.conversation_of_group(gid)
        if joined is None:  # the Welcome was for another group
            invites.failed(dev, conv, "the invitation is not for this conversation", None, now)
            return 0
        request = {"from": entry["from"], "state": "accepted"}
        dev.store.update_conversation(joined["conv_id"],
                                      meta=dict(joined["meta"], request=request))
        return apply_held(dev, held, now)


def apply_held(dev: DeviceCore, items: list[m.QueueItem], now: int) -> int:
    """Apply what waited for the accept, in order, each whole or not at all, inside the
    accept's transaction (``join_invitation``): a bad item is recorded and skipped, while
    the profile failing (a full disk) undoes the whole accept."""
    applied = 0
    for item in items:
        try:
            with dev.store.savepoint():
                _apply_one(dev, item, now)
            applied += 1
        except ProfileUnavailable:
            raise
        except AccordError as exc:
            conv = _conv_of(dev, item.group_id)
            if conv is not None:
                dev.store.add_event(conv["conv_id"], now, "error",
                                    {"what": f"a held {item.kind} could not be applied",
                                     "error": type(exc).__name__})
    return applied


def _commit(dev: DeviceCore, item: m.QueueItem, now: int) -> None:
    conv = _conv_of(dev, item.group_id)
    if conv is None or not conv["meta"].get("active", True):
        return
    fork_check.on_commit(dev, conv, item, now)  # issue 11: check the hub's chain (T07)
    state = dev.store.load_group(conv["group_id"])
    if item.epoch is not None and item.epoch < dev.engine.epoch(state):
        return  # already applied (a replayed delivery)
    before = {mb.identity for mb in dev.engine.members(state)}
    r = dev.engine.process(state, item.body, now)
    me = dev.identity.mls_identity
    by = split_identity(r.sender)[0]
    if me in r.removed:
        deactivate(dev, conv, now, by)
        return
    dev.store.save_group(conv["group_id"], r.state, now)
    after = {mb.identity for mb in dev.engine.members(r.state)}
    roster_events(dev, conv, before, after, by, now)
    check_removal_policy(dev, conv, r.removed, by, now, frozenset(after - before))
    reinit_state.started(dev, conv, r.state, by, now)  # T10: a ReInit moves the conversation


def _proposal(dev: DeviceCore, item: m.QueueItem, now: int) -> None:
    """Cache a proposal for the commit that will reference it (RFC 9420 12.4). A
    member's Remove proposals of its own account's leaves mean it left; Remove
    proposals of others are cached but never committed by this device."""
    conv = _conv_of(dev, item.group_id)
    if conv is None or not conv["meta"].get("active", True):
        return
    state = dev.store.load_group(conv["group_id"])
    if item.epoch is not None and item.epoch != dev.engine.epoch(state):
        return  # for an epoch that is over: no commit can reference it now
    r = dev.engine.process(state, item.body, now)
    dev.store.save_group(conv["group_id"], r.state, now)
    by = split_identity(r.sender)[0]
    if r.removed and all(split_identity(i)[0] == by for i in r.removed):
        mark_left(dev, conv["conv_id"], by, now)


def _application(dev: DeviceCore, item: m.QueueItem, now: int) -> None:
    conv = _conv_of(dev, item.group_id)
    if conv is None or not conv["meta"].get("active", True):
        return
    digest = hashlib.sha256(item.body).hexdigest()
    if dev.store.get("sent:" + digest) is not None:
        # Our own post coming back: the hub cannot leave the sender out (T11).
        dev.store.delete("sent:" + digest)
        return
    fork_check.on_application(dev, conv, item, now)  # issue 11: epoch and epoch tag (T07)
    state = dev.store.load_group(conv["group_id"])
    r = dev.engine.process(state, item.body, now)
    dev.store.save_group(conv["group_id"], r.state, now)
    assert r.plaintext is not None
    if consent.is_blocked(dev, r.sender):
        return  # T14: a blocked user's post in a group is dropped unread
    if consent.is_pending(conv):
        consent.hold(dev, conv, r, item.created_at, now)  # T14: a preview only
        return
    messaging.receive(dev, conv, r, item.created_at, now)
    report.remember(dev, conv, item, r)  # issue 11: the frank, checked (T13, MIMI 5.4.1.3)
