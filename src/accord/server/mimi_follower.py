"""The follower's side of the MIMI transport (draft-ietf-mimi-protocol-06): what a
room's hub hands this provider for its users.

- ``POST /mimi/v1/notify/{roomId}`` (5.5): ``FanoutMessage``s of one room, from
  that room's hub only, each filed through the follower's one filing path
  (:func:`accord.federation.follower.deliver`: the signer must be the group's
  hub, each recipient a member device hosted here, consent and blocks (T14),
  once per message), answered 201 with no body.

A FanoutMessage carries MLS and nothing of Accord's roster, so the follower works
the room out itself (:mod:`accord.federation.mimi_roster`) and hands the filing
path the items Accord's fan-out would have carried:

- a Welcome goes to the devices of ours whose KeyPackages its secrets name (by
  KeyPackageRef, RFC 9420 12.4.3.1, among those this provider handed out); its
  inviter, for consent, is the user who claimed them (MIMI asks for consent at
  the claim, 5.2), and the item names that user's member device as its sender (the
  device's own T14 check, ``client.consent.on_join``); its RatchetTreeOption is the room's member list. A Welcome
  naming no KeyPackage of ours, or whose tree is not the room as followed here,
  is refused;
- a commit must be of the room's epoch here; it goes to our devices of the room
  before it (those it removes included, the committer not), and moves the room
  on by its Adds and Removes; an Add of a device of ours must be of a KeyPackage
  we handed out for that very device;
- a proposal must be of the epoch, from a member's leaf; it goes to our other
  member devices and is kept for the commit that names it by reference; so does
  each of a proposal's ``moreProposals`` (the rest of its update's bundle, 5.3) and
  each of a commit's ``externalProposals`` (proposals of the epoch it opens), each
  filed as its own proposal;
- an application message goes to our member devices, with the hub's ``frank``
  (T13, MIMI 5.4.1), which each device checks.

A message's id is the hash of the room and its FanoutMessage, so the same bytes
twice are filed once and answered 201 (5.5's byte-exact duplicates). The room's
new view is written in the transaction that files the messages it follows from.

A hub whose MIMI directory lists ``accord-forkDetection`` sends the chain link (T07)
of each commit and Welcome in the notify's signed ``accord-handshake-chain`` header
(:mod:`accord.wire.mimi_accord`); each goes to the devices with the item, as on
Accord's own fan-out, and the devices of such a room expect one with every commit
and Welcome (:func:`hub_links`: a missing or wrong link is their fork alert).

What only Accord's fan-out carries is otherwise absent over MIMI, and the follower
and its clients do without it (docs/INTEROP.md, "MIMI transport"): no chain link
from a hub that does not offer the extension (its rooms' devices check the epoch
tags of application messages only), no sealed first-contact request with a
Welcome from a hub that does not send the notify in accord-firstContact's carrier
(``server.mimi_first_contact``; the message request then shows the inviter only,
issue 18), no sender device
on a Welcome, and the epoch of a room joined by a Welcome is unknown here until
its next handshake message.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence

from accord.errors import AuthError, NotFound, ValidationError
from accord.federation import follower, franking, mimi_roster, mls_check
from accord.federation.service import Federation
from accord.mls.structs.messages import MLSMessage, PrivateMessage
from accord.storage.records import ViewWrite
from accord.wire import b64e, decode, encode, mimi_accord
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import mimi as w

APPLICATION, PROPOSAL, COMMIT = 1, 2, 3
WELCOME_WIRE_FORMAT = 3


def _msg_id(group_id: bytes, fanout: w.FanoutMessage, part: int = 0) -> str:
    more = b"" if part == 0 else b"\x00" + part.to_bytes(4, "big")
    digest = hashlib.sha256(b"accord mimi fanout\x00" + group_id + fanout.to_bytes()
                            + more).digest()
    return b64e(digest[:16])


class _Room:
    """One notify's walk through a room: the view as each message leaves it."""

    def __init__(self, fed: Federation, hub: str, group_id: bytes,
                 stored: tuple[int, bytes] | None) -> None:
        self.fed, self.hub, self.group_id = fed, hub, group_id
        self.version = None if stored is None else stored[0]
        self.view = None if stored is None else mimi_roster.RoomView.from_bytes(stored[1])
        self.moved = False
        self.proposals: dict[int, list[bytes]] = {}  # this batch's, by epoch

    @property
    def domain(self) -> str:
        return self.fed.domain

    def _followed(self) -> mimi_roster.RoomView:
        if self.view is None:
            raise NotFound("this provider follows no such room over MIMI (it joins one by"
                           " a Welcome with the room's tree)")
        return self.view

    def _item(self, msg_id: str, kind: str, epoch: int, fanout: w.FanoutMessage,
              recipients: list[str], sender: str | None, account: str | None,
              roster: bool = False, frank: bytes | None = None,
              body: bytes | None = None, link: tuple[int, bytes] | None = None
              ) -> fw.FedItem:
        view = self.view
        return fw.FedItem(
            msg_id=msg_id, kind=kind, group_id=self.group_id, epoch=epoch,
            body=fanout.message.to_bytes() if body is None else body,
            created_at=fanout.timestamp, recipients=recipients,
            sender=sender, sender_account=account,
            roster=[fw.FedDevice(d, dom) for d, dom in view.roster()]
            if roster and view is not None else None,
            group_epoch=view.epoch if roster and view is not None else None,
            frank=frank, chain_seq=None if link is None else link[0],
            chain=None if link is None else link[1])

    async def application(self, msg_id: str, fanout: w.FanoutMessage) -> list[fw.FedItem]:
        message = fanout.message.message
        if not isinstance(message, PrivateMessage):
            raise ValidationError("an application message travels in a PrivateMessage",
                                  "RFC 9420 6.2")
        if self.view is not None:
            recipients = self.view.local(self.domain)
        else:  # a room followed through Accord's own fan-out
            group = await self.fed.provider.store.get_group(self.group_id)
            recipients = [d for d in group.members if group.has_local(d)]
        mls_check.check_application(fanout.message.to_bytes(), self.group_id, message.epoch)
        return [self._item(msg_id, "application", message.epoch, fanout, recipients, None,
                           None, frank=franking.frank_of(fanout.frank))]

    async def proposal(self, msg_id: str, fanout: w.FanoutMessage) -> list[fw.FedItem]:
        """A proposal and its ``moreProposals`` (5.5: the bundle's further proposals,
        5.3), each taken in order as if fanned out alone."""
        return self._proposals(msg_id, fanout, (fanout.message, *(fanout.more_proposals or ())))

    def _proposals(self, msg_id: str, fanout: w.FanoutMessage, messages: Sequence[MLSMessage],
                   first: int = 0) -> list[fw.FedItem]:
        """Each of ``messages`` as a proposal of the room's epoch, kept for the commit that
        names it; the n-th filed under the fan-out's id, part ``first + n``."""
        items = []
        for n, message in enumerate(messages, start=first):
            raw = message.to_bytes()
            p = mimi_roster.follow_proposal(self._followed(), raw, self.group_id)
            self.view, self.moved = p.view, self.moved or p.view != self.view
            assert p.view.epoch is not None
            self.proposals.setdefault(p.view.epoch, []).append(raw)
            recipients = [d for d in p.view.local(self.domain) if d != p.sender]
            items.append(self._item(msg_id if n == 0 else _msg_id(self.group_id, fanout, n),
                                    "proposal", p.view.epoch, fanout, recipients, p.sender,
                                    p.account, body=raw))
        return items

    async def commit(self, msg_id: str, fanout: w.FanoutMessage,
                     link: tuple[int, bytes] | None = None) -> list[fw.FedItem]:
        raw = fanout.message.to_bytes()
        before = self._followed()
        store = self.fed.provider.store
        epoch = fanout.message.message.content.epoch  # type: ignore[union-attr]
        accepted = [*await store.fed_epoch_proposals(self.group_id, epoch),
                    *self.proposals.get(epoch, [])]
        c = mimi_roster.follow_commit(before, raw, self.group_id, accepted)
        local = set(c.view.local(self.domain))
        ours = [(d, ref) for d, ref in zip(c.added, c.added_refs, strict=True) if d in local]
        handed = await store.kp_handed([ref for _, ref in ours])
        if any(handed.get(ref, ("",))[0] != d for d, ref in ours):
            raise ValidationError("the commit adds a device of ours by a KeyPackage this"
                                  " provider never handed out for it", "MIMI 5.5")
        recipients = [d for d in before.local(self.domain) if d != c.sender]
        self.view, self.moved = c.view, True
        item = self._item(msg_id, "commit", epoch, fanout, recipients, c.sender, c.account,
                          roster=True, link=link)
        # 5.5 externalProposals: proposals of the epoch the commit opens, stapled to it
        return [item, *self._proposals(msg_id, fanout, fanout.more_proposals or (), first=1)]

    async def welcome(self, msg_id: str, fanout: w.FanoutMessage,
                      link: tuple[int, bytes] | None = None,
                      first_contact: Sequence[m.SealedFirstContact] = ()) -> list[fw.FedItem]:
        assert fanout.ratchet_tree_option is not None
        store = self.fed.provider.store
        handed = await store.kp_handed(mls_check.welcome_recipients(fanout.message.to_bytes()))
        if not handed:
            raise ValidationError("the Welcome names no KeyPackage this provider handed out",
                                  "RFC 9420 12.4.3.1, MIMI 5.5")
        tree = mimi_roster.from_tree(fanout.ratchet_tree_option,
                                     None if self.view is None else self.view.epoch)
        if self.view is not None and dict(self.view.leaves) != dict(tree.leaves):
            raise ValidationError("the Welcome's tree is not the room as this provider"
                                  " follows it", "MIMI 5.5")
        members = tree.local(self.domain)
        if any(d not in members for d, _ in handed.values()):
            raise ValidationError("a device the Welcome is for is not in its tree",
                                  "RFC 9420 12.4.3.1")
        self.view, self.moved = tree, self.moved or self.view is None
        # one item per inviter (consent is asked of each, T14): usually one. The item names
        # a member device of the inviter (the user we handed the KeyPackages to) as its
        # sender, as Accord's fan-out names the committer, so the device takes it as that
        # member's invitation; an inviter with no device in the room names none, and the
        # device then takes the Welcome as a request (client.consent.on_join).
        inviters: dict[str, list[str]] = {}
        for device, claimer in sorted(handed.values()):
            inviters.setdefault(claimer, []).append(device)
        epoch = tree.epoch if tree.epoch is not None else 0
        return [dataclasses.replace(
                    self._item(msg_id if n == 0 else _msg_id(self.group_id, fanout, n),
                               "welcome", epoch, fanout, devices, tree.device_of(claimer),
                               claimer, roster=True,
                               link=link),
                    first_contact=list(first_contact))  # filed for its recipients only
                for n, (claimer, devices) in enumerate(sorted(inviters.items()))]

    def write(self) -> ViewWrite | None:
        if not self.moved or self.view is None:
            return None
        return ViewWrite(self.group_id, self.version, self.view.to_bytes())


async def notify(fed: Federation, peer: str, req: w.FanoutBatch, target: str, now: int,
                 headers: Mapping[str, str] | None = None,
                 first_contact: Sequence[m.SealedFirstContact] = ()) -> None:
    """File a hub's notify; ``headers``: its signed extension headers (the chain links
    of accord-forkDetection, by the FanoutMessage's position); ``first_contact``: the
    sealed requests of its Welcomes (accord-firstContact), each filed with the Welcome
    of its device, and only there (one for a device no Welcome here is for is dropped)."""
    hub_domain, group_id = w.room_of_uri(target)
    if hub_domain != peer:
        raise AuthError("only the room's hub fans out its messages (MIMI 5.5)")
    # that the peer hubs the group here is the filing's check (``_follow_group``)
    store = fed.provider.store
    ids = [_msg_id(group_id, fanout) for fanout in req.messages]
    filed = await store.fed_filed(ids)
    chain = (headers or {}).get(mimi_accord.CHAIN_HEADER)
    links = {} if chain is None else mimi_accord.links_of_header(chain, len(req.messages))
    room = _Room(fed, peer, group_id, await store.mimi_view(group_id))
    items: list[fw.FedItem] = []
    for n, (msg_id, fanout) in enumerate(zip(ids, req.messages, strict=True)):
        if msg_id in filed:
            continue  # the hub sent it before (5.5): filed once
        filed.add(msg_id)
        message = fanout.message
        if message.wire_format == WELCOME_WIRE_FORMAT:
            items += await room.welcome(msg_id, fanout, links.get(n), first_contact)
        elif message.content_type == APPLICATION:
            items += await room.application(msg_id, fanout)
        elif message.content_type == PROPOSAL:
            items += await room.proposal(msg_id, fanout)
        else:
            items += await room.commit(msg_id, fanout, links.get(n))
    if not items:
        return
    # the limits of Accord's own fan-out (sizes, times), by its one declaration
    batch = decode(fw.FedDeliver, encode(fw.FedDeliver(items=items)))
    await follower.deliver(fed, peer, batch, now, room.write())
