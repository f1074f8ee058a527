"""The one path that encrypts content and posts it to the hub (issue 11, T06, T11).

``post_sealed`` is every send's last step, the outbox's retries included
(``outbox``): the key-change gate (``safety.check_before_send``) before each
encryption, the MLS generation spent before the post, the post without a
session (hidden sender, signed with the epoch's posting key; with it only
to a group whose posts name their sender, ``rooms.named_sender``), and the
catch-up and new encryption when another commit took the epoch first.
``require_member`` says why nothing is sent to a conversation we are out of.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from accord.client import reinit_state, rooms, safety
from accord.client.api import ServerError
from accord.client.mls_session import epoch_tag, posting_key
from accord.errors import (
    AccordError,
    EpochConflict,
    GroupMoved,
    SenderRequired,
    ValidationError,
)
from accord.privacy.franking import message_aad, sender_franking_tag

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

POST_ATTEMPTS = 3


class GroupKeptChanging(AccordError):
    """Every attempt met a newer epoch; a later attempt may succeed."""

    code = "group_kept_changing"


class GroupMoving(AccordError):
    """The conversation is moving to a new group (a ReInit, RFC 9420 11.2) whose Welcome
    has not reached this device yet: the message goes there once it has."""

    code = "group_moving"


def require_member(dev: DeviceCore, conv: dict[str, Any]) -> None:
    """Nothing is sent to a conversation we are out of; say why (issue 19)."""
    if conv["meta"].get("active", True):
        return
    out = [e for e in dev.store.events(conv["conv_id"]) if e["kind"] in ("removed", "left")]
    if out and out[-1]["kind"] == "removed":
        raise ValidationError(f"you were removed from {conv['name']} (by "
                              f"{out[-1]['detail'].get('by', 'a member')}); you can still "
                              "read its history", "membership")
    if out:
        raise ValidationError(f"you left {conv['name']}; you can still read its history",
                              "membership")
    raise ValidationError(f"this device is not in {conv['name']} (yet): a member or "
                          "another of your devices adds it at their next sync", "membership")


async def post_sealed(dev: DeviceCore, conv: dict[str, Any], plaintext: bytes, now: int, *,
                      confirmed: bool | Collection[str] = False) -> None:
    """Encrypt the sealed body ``plaintext`` (MIMI content) in the group's current epoch,
    with the Safe AAD of its franking tag and the epoch's tag, and post it to the hub; a newer epoch
    (``EpochConflict``) is caught up with and the content encrypted again.

    A group that a ReInit ended (``GroupMoved``) is caught up with too: the sync
    moves the conversation into the new group when its Welcome is here, and the
    content is sealed for that room (``rooms.for_room``) and encrypted there; until
    then ``GroupMoving`` (pending in the outbox)."""
    for _ in range(POST_ATTEMPTS):
        # Before every encryption, the retry after an epoch conflict included: the sync
        # may have brought new or changed members (the re-encryption flaw, T06).
        safety.check_before_send(dev, conv, now, confirmed=confirmed)
        if conv["meta"].get(reinit_state.META):
            raise GroupMoving(f"{conv['name']} is moving to a new group; this device"
                                     " sends there once it has joined it")
        plaintext = await rooms.for_room(dev, conv, plaintext)
        state = dev.store.load_group(conv["group_id"])
        aad = message_aad(epoch_tag(dev.engine, state), sender_franking_tag(plaintext))
        ciphertext, nxt = dev.engine.protect(state, plaintext, aad)
        # The generation is spent before the post: never reused, whatever happens next.
        dev.store.save_group(conv["group_id"], nxt, now)
        marker = "sent:" + hashlib.sha256(ciphertext).hexdigest()
        dev.store.put(marker, b"1")
        named = rooms.named_sender(dev, conv["group_id"])
        try:
            resp = await dev.api.post_application(conv["group_id"], dev.engine.epoch(state),
                                                  dev.random_bytes(16), ciphertext,
                                                  posting_key(dev.engine, state).sign,
                                                  named=named)
            if named and resp.created_at is None:  # taken without its name: hidden again
                rooms.remember_named(dev, conv["group_id"], False)
            return
        except ServerError:
            raise  # the post may have arrived: keep the marker for its echo
        except SenderRequired:  # the group's posts name their sender now (MIMI, 5.4)
            dev.store.delete(marker)
            if named:
                raise
            await rooms.learn_hub(dev, conv["group_id"], again=True)
            if not rooms.named_sender(dev, conv["group_id"]):
                raise
        except (EpochConflict, GroupMoved):
            dev.store.delete(marker)
            await dev.catch_up(now)
            conv = dev.store.conversation(conv["conv_id"])
            require_member(dev, conv)  # the commit that took the epoch removed us
            if dev.post_jitter is not None:  # the retry is not posted right after the sync
                await asyncio.sleep(dev.post_jitter())
        except AccordError:
            dev.store.delete(marker)  # refused: it will not come back
            raise
    raise GroupKeptChanging("the group kept changing; try again")


def count_sent(dev: DeviceCore, conv_id: str) -> None:
    """One more message sent since our last key update (T09, ``housekeeping``)."""
    meta = dev.store.conversation(conv_id)["meta"]
    meta["sent_since_update"] = meta.get("sent_since_update", 0) + 1
    dev.store.update_conversation(conv_id, meta=meta)
