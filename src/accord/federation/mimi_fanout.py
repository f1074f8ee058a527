"""The hub's fan-out over MIMI (draft-ietf-mimi-protocol-06 5.5), for ``--mimi-transport``.

The outbound queue keeps what the hub owes each follower as ``FedItem`` rows,
written in the hub's transactions (:mod:`accord.federation.outbox`); a hub in
MIMI mode sends them as ``FanoutMessage``s to ``POST /notify/{roomId}``, one
request per room and batch (the path names the room), in the hub's order:

- application: the PrivateMessage and, when the hub franked it, its ``Frank``
  (T13, 5.4.1.2: signed when the room names this hub as its franking_agent);
- proposal: the PublicMessage; the proposals of one update bundle (5.3), kept
  under the bundle's ids (``hub.bundle_ids``) and queued one after the other, go
  as one FanoutMessage, the first with the rest as its ``moreProposals`` (5.5:
  the bundle's list); any other proposal with an empty list. A bundle split by
  the queue (a batch's end, another message in between, a room retried item by
  item) goes in parts, each followed alike;
- commit: the PublicMessage with an empty ``externalProposals`` (the hub makes
  no proposals of its own);
- Welcome: with the RatchetTreeOption (``full``) of the epoch it opens, which
  the hub read from its public state in the commit's transaction.

What a FanoutMessage cannot carry is not sent: the roster (the follower works it
out from MLS, :mod:`accord.federation.mimi_roster`) and the sender of a handshake
message beyond its leaf. To a follower whose MIMI directory lists
``accord-forkDetection`` the hub's chain link (T07) of each commit and Welcome goes
beside the body, in the notify's signed ``accord-handshake-chain`` header
(:mod:`accord.wire.mimi_accord`); to any other follower, nothing but the draft's
body. A Welcome's sealed first-contact requests (issue 18) go to a follower that
lists ``accord-firstContact``, the notify's body whole inside the extension's
carrier (:mod:`accord.federation.mimi_first_contact`); to any other, not at all. An item that cannot be put into
a FanoutMessage (a Welcome of a group older than the hub's public state has no
tree) is refused here like a refusal of the follower: the queue drops it alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from accord.errors import DecodeError, ValidationError
from accord.federation import franking, hub, mimi_chain, mimi_first_contact
from accord.mls.codec import decode
from accord.mls.structs.messages import MLSMessage
from accord.wire import federation as fw
from accord.wire import mimi as w
from accord.wire import mimi_accord

if TYPE_CHECKING:
    from accord.federation.service import Federation


def fanout_message(item: fw.FedItem) -> w.FanoutMessage:
    """One queued item as the FanoutMessage the draft defines (module docstring)."""
    try:
        message = decode(MLSMessage, item.body)
    except DecodeError as exc:
        raise ValidationError(f"a queued item is not an MLSMessage: {exc}") from None
    assert isinstance(message, MLSMessage)
    tree = None
    if item.kind == "welcome":
        if item.ratchet_tree is None:
            raise ValidationError("a Welcome with no ratchet tree cannot go over MIMI",
                                  "draft-ietf-mimi-protocol-06 5.5")
        tree = w.RatchetTreeOption.from_bytes(item.ratchet_tree)
    frank = None
    if item.kind == "application":
        frank = franking.as_frank(item.frank)
    more = () if item.kind in ("proposal", "commit") else None
    try:
        return w.FanoutMessage(item.created_at, message, frank, tree, more)
    except DecodeError as exc:  # the item's kind is not its message's
        raise ValidationError(f"a queued item does not fit a FanoutMessage: {exc}") from None


def fanout_messages(items: Sequence[fw.FedItem]) -> list[w.FanoutMessage]:
    """One room's items as FanoutMessages: a run of one bundle's proposals as one
    (module docstring), every other item as its own."""
    return [message for message, _ in _fanouts(items)]


def _fanouts(items: Sequence[fw.FedItem]) -> list[tuple[w.FanoutMessage, fw.FedItem]]:
    """:func:`fanout_messages`, each with the item it starts from."""
    out: list[tuple[w.FanoutMessage, fw.FedItem]] = []
    previous = None
    for item in items:
        bundle = hub.bundle_of(item.msg_id) if item.kind == "proposal" else None
        if bundle is not None and bundle == previous:
            first, start = out[-1]
            out[-1] = (dataclasses.replace(first, more_proposals=(
                *(first.more_proposals or ()), fanout_message(item).message)), start)
            continue
        out.append((fanout_message(item), item))
        previous = bundle
    return out


def chain_links(fanouts: Sequence[tuple[w.FanoutMessage, fw.FedItem]]
                ) -> mimi_accord.FanoutChainLinks:
    """The hub's chain link (T07) of each commit and Welcome among a notify's
    FanoutMessages, by position (accord-forkDetection)."""
    return mimi_accord.FanoutChainLinks(tuple(
        mimi_accord.FanoutChainLink(n, item.chain_seq, item.chain)
        for n, (_, item) in enumerate(fanouts)
        if item.chain_seq is not None and item.chain is not None))


def by_room(items: Sequence[fw.FedItem]) -> list[tuple[bytes, list[fw.FedItem]]]:
    """The items of each room, in order, at most one notify's worth each."""
    rooms: dict[bytes, list[list[fw.FedItem]]] = {}
    for item in items:
        chunks = rooms.setdefault(item.group_id, [[]])
        if len(chunks[-1]) == w.MAX_FANOUT:
            chunks.append([])
        chunks[-1].append(item)
    return [(gid, chunk) for gid, chunks in rooms.items() for chunk in chunks]


async def notify(fed: Federation, peer: str, items: Sequence[fw.FedItem], now: int) -> None:
    """Send ``items`` to ``peer`` as one notify per room; raises as the peer answered
    (the follower files byte-identical FanoutMessages once, so a resent room is safe)."""
    links = await mimi_chain.sends_links(fed, peer, now)
    for group_id, room in by_room(items):
        fanouts = _fanouts(room)
        batch = w.FanoutBatch(tuple(message for message, _ in fanouts))
        chain = chain_links(fanouts) if links else None
        covered = {mimi_accord.CHAIN_HEADER: mimi_accord.chain_header(chain)} if chain and \
            chain.links else None
        uri = w.mimi_room_uri(fed.domain, group_id)
        sealed = [s for i in room if i.kind == "welcome" for s in i.first_contact]
        at = None if not sealed else await mimi_first_contact.carrier_url(
            fed, peer, group_id, fed.domain, now)
        if at is None:  # the draft's notify (a Welcome's requests are not sent)
            await fed.client.notify_mimi(peer, uri, batch, now, covered)
        else:  # accord-firstContact: the notify whole, with its Welcomes' requests
            body = mimi_accord.carry(mimi_accord.NOTIFY, batch.to_bytes(), sealed)
            await fed.client.post_mimi_created(peer, "notify", uri, body.to_bytes(), now,
                                               covered, at)
