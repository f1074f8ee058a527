"""A follower's application posts over MIMI (draft-ietf-mimi-protocol-06 5.4, submit message).

A provider that sends room traffic over MIMI only (``Federation.mimi``) hands
the hub of a room hubbed elsewhere each application post of its devices as a
SubmitMessageRequest. MIMI names the sender: ``sendingUri`` is a user of this
provider, and the hub checks that the user has a member device of the room
hosted here. Accord's hidden sender (T11), which its own federation API offers
as the ``accord-hiddenSenders`` extension, is not available there. So a device
posts to such a room with its session (``GroupState.named_sender``); this
provider checks that the session's device, not merely its account, is a member
of the room, and names that device's account, never anything the request says.
Nothing here keeps or logs the name: it travels to the hub in the request, and
the hub stores and fans out the message with no sender.

The hub's answer becomes the device's: ``accepted`` a ``PostResponse`` with
the hub's accepted time and Frank (T13), ``epochTooOld`` an
``EpochConflict`` naming the room's epoch (the device catches up and encrypts
again), ``notAllowed`` a ``ValidationError``. The hub takes the message's hash
as its single-use nonce, so the same message twice is a replay (409).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import EpochConflict, NotFound, ValidationError
from accord.federation import franking
from accord.federation.mimi_out import answer_id
from accord.mls.structs.messages import MLSMessage
from accord.storage import DeviceRecord, GroupRecord
from accord.wire import messages as m
from accord.wire import mimi as w

if TYPE_CHECKING:
    from accord.federation.service import Federation

async def submit(fed: Federation, by: DeviceRecord, group: GroupRecord,
                 req: m.ApplicationPost, now: int) -> m.PostResponse:
    # The device itself must be a member: another device of a member's account would
    # pass the hub's check, which knows users only (5.4). A non-member learns nothing (T08).
    if not group.has_local(by.device_id):
        raise NotFound("no such group")
    message = MLSMessage.from_bytes(req.ciphertext)
    raw = message.to_bytes()
    body = w.SubmitMessageRequest(w.MLS10, message,
                                  w.IdentifierUri.of(w.mimi_user_uri(by.account)))
    resp = await fed.client.post_mimi(group.hub, "submitMessage",
                                      w.mimi_room_uri(group.hub, group.group_id), body,
                                      w.SubmitMessageResponse, now)
    code = w.SubmitResponseCode
    if resp.status_code == code.ACCEPTED:
        return m.PostResponse(msg_id=answer_id(raw),
                              created_at=resp.accepted_timestamp,
                              frank=franking.frank_of(resp.frank))
    if resp.status_code == code.EPOCH_TOO_OLD:
        raise EpochConflict(resp.current_epoch)
    raise ValidationError(f"the hub {group.hub} did not allow the message",
                          "draft-ietf-mimi-protocol-06 5.4 notAllowed")
