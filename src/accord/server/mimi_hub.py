"""The hub's side of the MIMI transport (draft-ietf-mimi-protocol-06): a follower
provider hands the hub a room's messages.

- ``POST /mimi/v1/submitMessage/{roomId}`` (5.4): an MLS PrivateMessage holding
  an application message, through the hub's one post acceptance
  (:func:`accord.federation.hub.accept_post_franked`, origin ``MIMI``).

Each handler answers for rooms this provider hubs only (404 otherwise: no
relaying). The signing peer speaks only for its own users: the ``sendingUri``
is one of its users with a member device of the room that the peer hosts
(``hub.ORIGIN_CHECKS``). The sender is checked and then forgotten: the
message is stored and fanned out with no sender, as every Accord post (T11).
"""

from __future__ import annotations

import hashlib

from accord.errors import EpochConflict, NotFound
from accord.federation import hub
from accord.federation.service import Federation
from accord.mls.structs.messages import PrivateMessage
from accord.server.federation_routes import requester_of
from accord.wire import messages as m
from accord.wire import mimi as w

# Accord's franking tag is the hub's MAC (T13), not signed: no signature suite.
NO_FRANKING_SIGNATURE = 0


def hubbed_room(fed: Federation, room_uri: str) -> bytes:
    """The group id of a room this provider hubs; 404 for any other room."""
    hub_domain, group_id = w.room_of_uri(room_uri)
    if hub_domain != fed.domain:
        raise NotFound("this provider is not the hub of this room")
    return group_id


async def submit_message(fed: Federation, peer: str, req: w.SubmitMessageRequest, target: str,
                         now: int) -> w.SubmitMessageResponse:
    group_id = hubbed_room(fed, target)
    account = requester_of(peer, w.account_of_user_uri(req.sending_uri.text()))
    raw = req.app_message.to_bytes()
    epoch = _epoch(req.app_message.message)
    # The message's own hash is its single-use nonce: the same bytes twice are a replay.
    post = m.ApplicationPost(epoch=epoch, nonce=hashlib.sha256(raw).digest(), ciphertext=raw,
                             signature=bytes(64))
    origin = hub.Origin(hub.MIMI, account=account, peer=peer)
    try:
        _, tag = await hub.accept_post_franked(fed, origin, group_id, post, now)
    except EpochConflict as exc:
        current = exc.current_epoch
        if current is not None and epoch < current:
            return w.SubmitMessageResponse(w.MLS10, w.SubmitResponseCode.EPOCH_TOO_OLD,
                                           current_epoch=current)
        # an epoch the hub has not reached is nonsense (5.4: notAllowed)
        return w.SubmitMessageResponse(w.MLS10, w.SubmitResponseCode.NOT_ALLOWED)
    frank = None if tag is None else w.Frank(tag, NO_FRANKING_SIGNATURE, b"")
    return w.SubmitMessageResponse(w.MLS10, w.SubmitResponseCode.ACCEPTED,
                                   accepted_timestamp=now, frank=w.MaybeFrank(frank))


def _epoch(message: object) -> int:
    """A PrivateMessage's epoch; the hub's check (``mls_check.check_application``, in
    ``accept_post_franked``) refuses any other message, whatever this says."""
    return int(message.epoch) if isinstance(message, PrivateMessage) else 0
