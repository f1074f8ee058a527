"""The follower's side of the MIMI transport (draft-ietf-mimi-protocol-06): what a
room's hub hands this provider for its users.

- ``POST /mimi/v1/notify/{roomId}`` (5.5): one or more ``FanoutMessage``s of a
  room this provider follows, from that room's hub only, filed through the
  follower's one filing path (:func:`accord.federation.follower.deliver`: the
  signer must be the group's hub, each recipient a member device hosted here,
  consent and blocks (T14), once per message).

Accord decides (docs/INTEROP.md, "MIMI transport"): the recipients are this
provider's member devices of the room as the follower knows them; a message's
id is the hash of the room and its FanoutMessage, so the same bytes twice are
filed once (5.5's byte-exact duplicates); a ``frank`` hands the hub's franking
tag on to the devices (T13). Only application messages are taken: the
follower learns a room's members from the hub's Accord fan-out (its rosters),
which a FanoutMessage does not carry, so handshake messages and Welcomes over
MIMI are refused (422) rather than filed against a roster that would drift.
"""

from __future__ import annotations

import hashlib

from accord.errors import AuthError, ValidationError
from accord.federation import follower, mls_check
from accord.federation.service import Federation
from accord.mls.structs.messages import PrivateMessage
from accord.wire import b64e, decode, encode
from accord.wire import federation as fw
from accord.wire import mimi as w

APPLICATION = 1


def _msg_id(group_id: bytes, fanout: w.FanoutMessage) -> str:
    digest = hashlib.sha256(b"accord mimi fanout\x00" + group_id + fanout.to_bytes()).digest()
    return b64e(digest[:16])


async def notify(fed: Federation, peer: str, req: w.FanoutBatch, target: str, now: int
                 ) -> None:
    hub_domain, group_id = w.room_of_uri(target)
    if hub_domain != peer:
        raise AuthError("only the room's hub fans out its messages (MIMI 5.5)")
    # that the peer hubs the group here is the filing's check (``_follow_group``)
    group = await fed.provider.store.get_group(group_id)
    recipients = [d for d in group.members if group.has_local(d)]
    items = []
    for fanout in req.messages:
        message = fanout.message.message
        if fanout.message.content_type != APPLICATION or not isinstance(message,
                                                                       PrivateMessage):
            raise ValidationError("only application messages are taken over MIMI fan-out;"
                                  " the room's handshake comes through the hub's Accord"
                                  " fan-out", "MIMI 5.5 (docs/INTEROP.md)")
        raw = fanout.message.to_bytes()
        mls_check.check_application(raw, group_id, message.epoch)
        frank = fanout.frank.frank if fanout.frank is not None else None
        items.append(fw.FedItem(
            msg_id=_msg_id(group_id, fanout), kind="application", group_id=group_id,
            epoch=message.epoch, body=raw, created_at=fanout.timestamp,
            recipients=recipients, franking_tag=None if frank is None else frank.server_frank))
    # the limits of Accord's own fan-out (sizes, times), by its one declaration
    batch = decode(fw.FedDeliver, encode(fw.FedDeliver(items=items)))
    await follower.deliver(fed, peer, batch, now)
