"""The hub's one acceptance path: one function per message kind, for every origin.

The provider where a conversation was created orders it for every provider.
What it accepts is decided here and nowhere else: :func:`accept_commit`,
:func:`accept_proposal` and :func:`accept_post`, called by the client route
(origin ``DEVICE``: a session of one of our devices, or no session for a
hidden-sender post) and by the federation route (origin ``PEER``: a
follower provider's signed request). The checks that depend on the origin
are listed in :data:`ORIGIN_CHECKS` (in the spirit of h11's state tables);
every origin then runs the same MLS checks (:mod:`accord.federation.mls_check`)
and the same transaction (:mod:`accord.storage.hub_sql`):

- commit: a PublicMessage commit of this group and epoch, from the
  committer's own leaf, whose Adds and Removes (by value, or by reference to
  a proposal this hub accepted in the epoch) are exactly the declared
  ``added``/``removed``; a Welcome iff devices are added, sealed to exactly
  their KeyPackages; first commit for an epoch wins; the chain link (T07) is
  filed in the same transaction;
- proposal: a PublicMessage proposal of this group and epoch from the
  sender's own leaf; kept until the epoch ends;
- post: a PrivateMessage application message of this group and epoch, in
  the current or previous epoch (the previous only if its commit kept the
  members, issue 18), signed with that epoch's posting key, with a fresh
  nonce (the sender stays hidden, T11).

Every accepted message is fanned out to our own devices' queues and, through
the outbound queue, to the followers hosting the other members.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accord.errors import AuthError, NotFound, ValidationError
from accord.federation import commit_plan, consent, follower, franking, mls_check
from accord.storage import CommitChange, GroupRecord, NewMessage
from accord.storage.records import AddedLeaf, ItemEncoder, Roster
from accord.wire import b64e, dumps, signing
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire.accounts import domain_of
from accord.wire.mimi import mimi_user_uri

if TYPE_CHECKING:
    from accord.federation.service import Federation

DEVICE, PEER, MIMI = "device", "peer", "mimi"
# JOIN: an external commit (RFC 9420 12.4.3.2), a new device of a member user joining.
COMMIT, JOIN, PROPOSAL, POST = "commit", "join", "proposal", "post"


def new_msg_id() -> str:
    return b64e(secrets.token_bytes(16))


BUNDLE = "_b"  # after a new_msg_id: the ids of one bundle's proposals


def bundle_ids(count: int) -> list[str]:
    """Ids for the ``count`` proposals of one MIMI update bundle (5.3), in order; the
    MIMI fan-out carries a run of them as one message and its ``moreProposals`` (5.5)."""
    base = new_msg_id()
    return [f"{base}{BUNDLE}{n}" for n in range(count)]


def bundle_of(msg_id: str) -> str | None:
    """The bundle a message id of ``bundle_ids`` belongs to; None for any other id."""
    base, mark, n = msg_id[:22], msg_id[22:24], msg_id[24:]
    return base if mark == BUNDLE and n.isdigit() else None


@dataclass(frozen=True, slots=True)
class Origin:
    """Who hands the hub a message: one of its devices, or a follower for one of its own."""

    kind: str  # DEVICE, PEER or MIMI (a peer over draft-ietf-mimi-protocol-06)
    sender: str | None = None  # the sending device (None: a hidden-sender post)
    account: str | None = None  # MIMI post: the sendingUri's user, checked and not kept
    peer: str | None = None  # the signing provider (PEER)
    placed: tuple[fw.FedDevice, ...] = ()  # where a peer says each added device lives
    commit: bytes = b""  # a peer's commit: the credentials of the devices it adds


@dataclass
class Ctx:
    fed: Federation
    origin: Origin
    group: GroupRecord
    now: int
    allowed: set[str] | None = None  # added local devices that get the Welcome (None: all)
    requests: list[tuple[str, str]] = field(default_factory=list)


Check = Callable[[Ctx], Awaitable[None]]


# the origin's checks -----------------------------------------------------------------


async def _device_is_member(c: Ctx) -> None:
    # A non-member learns nothing, not even that the group exists (T08).
    if c.origin.sender is None or not c.group.has_local(c.origin.sender):
        raise NotFound("no such group")


async def _peer_hosts_sender(c: Ctx) -> None:
    """The sender must be a member device that the requesting provider itself hosts."""
    o = c.origin
    assert o.sender is not None and o.account is not None
    assert o.peer is not None
    if not c.group.hosted_by(o.peer, o.sender):
        raise AuthError("the sender is not a member device hosted by the requesting provider")
    if domain_of(o.account) != o.peer:
        raise AuthError("the sender's account is not hosted by the requesting provider")
    c.fed.limiter.check("sender", o.account, c.now)


async def _peer_places_only_what_it_may(c: Ctx) -> None:
    """Issue 17: a follower speaks for the devices of its own accounts. A device of a
    third provider it adds must be one that provider confirmed here, keyed by account
    (a claim), or that provider's own directory must list it with the Add's key: then
    it is confirmed now; or the hub itself relayed the Add's very KeyPackage from that
    provider for this room (MIMI 5.2, ``accord.server.mimi_relay``): confirmed by its
    source. The commit's transaction checks every added device again against its
    credential's account (``binding_sql.place_added``)."""
    o = c.origin
    store = c.fed.provider.store
    others = [d for d in o.placed if d.domain not in (o.peer, c.fed.domain)]
    creds = mls_check.added_credentials(o.commit) if others else {}
    refs = mls_check.added_key_package_refs(o.commit) if others else {}
    relayed = await store.kp_relayed(c.group.group_id, list(refs.values())) if others else {}
    for d in others:
        if d.device_id not in creds:
            raise ValidationError("the hub cannot confirm where an added device lives")
        account, key = creds[d.device_id]
        if domain_of(account) != d.domain:
            raise ValidationError("an added device is not hosted where its credential says")
        ref = refs.get(d.device_id)
        if ref is not None and relayed.get(ref) == (d.device_id, account, d.domain):
            await store.fed_bind_confirmed([(account, d.device_id)], c.fed.domain)
            continue
        # Always asked, even for a confirmed pair: the follower built this leaf, and
        # only the owner's provider can say that its key is that device's.
        listed = await follower.list_devices(c.fed, account, c.now)
        if not any(x.device_id == d.device_id and x.signature_key == key
                   for x in listed.devices):
            raise AuthError("the added device's own provider does not list it")
        await store.fed_bind_confirmed([(account, d.device_id)], c.fed.domain)


async def _user_devices(c: Ctx) -> list[str]:
    """The member devices of the origin's user, by the hub's own MLS state (each leaf's
    credential names ``account/device``)."""
    assert c.origin.account is not None
    public = await c.fed.provider.store.hub_public_state(c.group.group_id)
    if public is None:
        raise NotFound("this hub keeps no MLS state of this room")
    return mls_check.member_devices(public[1], c.origin.account)


async def _peer_hosts_sending_user(c: Ctx) -> None:
    """A MIMI submit (5.4), or a new device's external commit (5.3, as for its
    GroupInfo, 5.6): the user is a user of the signing peer with a member device of
    the room that the peer hosts. A submit's user is not kept: the message is stored
    and fanned out with no sender, as every post (T11)."""
    o = c.origin
    assert o.account is not None and o.peer is not None
    if domain_of(o.account) != o.peer:
        raise AuthError("the sending user is not hosted by the requesting provider")
    devices = await _user_devices(c)
    if not any(c.group.hosted_by(o.peer, d) for d in devices):
        raise AuthError("the sending user has no member device hosted by the requesting"
                        " provider")
    c.fed.limiter.check("sender", o.account, c.now)


async def _device_of_a_member_user(c: Ctx) -> None:
    """An external commit of one of our devices: its user has a member device in the
    room. A device of anyone else learns nothing, not even that the room exists (T08)."""
    if c.origin.sender is None or not await _user_devices(c):
        raise NotFound("no such group")


async def _peer_hosts_a_member(c: Ctx) -> None:
    assert c.origin.peer is not None
    if not c.group.hosted_by(c.origin.peer):
        raise AuthError("the requesting provider hosts no member of this group")


# What each origin must show before the checks every origin runs (module docstring).
ORIGIN_CHECKS: dict[tuple[str, str], tuple[Check, ...]] = {
    (COMMIT, DEVICE): (_device_is_member,),
    (COMMIT, PEER): (_peer_hosts_sender, _peer_places_only_what_it_may),
    (JOIN, DEVICE): (_device_of_a_member_user,),
    (JOIN, PEER): (_peer_hosts_sending_user,),
    (PROPOSAL, DEVICE): (_device_is_member,),
    (PROPOSAL, PEER): (_peer_hosts_sender,),
    (POST, DEVICE): (),  # no session at all: the posting key speaks (T11)
    (POST, PEER): (_peer_hosts_a_member,),
    (POST, MIMI): (_peer_hosts_sending_user,),
}
# A post is signed under its epoch's posting key (Accord, T11), unless a MIMI peer
# vouches for a member user it hosts (5.4 carries no posting key): ORIGIN_CHECKS.
POSTING_KEY_SPEAKS = {DEVICE: True, PEER: True, MIMI: False}


async def _admit(fed: Federation, kind: str, origin: Origin, group_id: bytes, now: int,
                 group: GroupRecord | None = None) -> Ctx:
    """The group, hubbed here, and the origin's checks for this kind of message.

    ``group`` is the caller's own read of it, if it made one for this request (one
    read fewer per post; the transaction that accepts re-reads it, locked)."""
    if group is None:
        group = await fed.provider.store.get_group(group_id)
    if group.hub != fed.domain:
        raise ValidationError("this provider is not the hub of this group")
    ctx = Ctx(fed, origin, group, now)
    for check in ORIGIN_CHECKS[(kind, origin.kind)]:
        await check(ctx)
    return ctx


async def admit_origin(fed: Federation, kind: str, origin: Origin, group_id: bytes,
                       now: int) -> None:
    """The origin's checks alone (``ORIGIN_CHECKS``), for a caller that must know every
    message of a batch passes them before the hub takes any (a MIMI update's proposals)."""
    await _admit(fed, kind, origin, group_id, now)


def item_encoder(sender_account: str | None, frank: bytes | None = None,
                 first_contact: Sequence[m.SealedFirstContact] = (),
                 tree: Callable[[], bytes | None] | None = None) -> ItemEncoder:
    """How the hub writes one outbox item; application items never name a sender.

    ``frank`` (T13) goes with an application item, the hub's chain link
    (T07, computed in the commit's transaction) with a commit and its Welcome,
    and a Welcome's sealed first-contact requests (issue 18) with it, each to the
    follower hosting its device. ``tree`` gives a Welcome's RatchetTreeOption for a
    follower that gets MIMI fan-out (MIMI 5.5; which one is decided per follower when
    the item is sent, ``Federation.mimi_to``), read in the commit's transaction.
    """

    def encode(msg: NewMessage, recipients: list[str], roster: Roster | None,
               group_epoch: int | None, link: tuple[int, bytes] | None) -> bytes:
        assert msg.group_id is not None and msg.epoch is not None
        attributable = msg.sender is not None
        chained = link is not None and msg.kind in franking.CHAINED_KINDS
        return dumps(fw.FedItem(
            msg_id=msg.msg_id, kind=msg.kind, group_id=msg.group_id, epoch=msg.epoch,
            body=msg.body, created_at=msg.created_at, recipients=recipients,
            sender=msg.sender if attributable else None,
            sender_account=sender_account if attributable else None,
            roster=None if roster is None else [fw.FedDevice(d, dom) for d, dom in roster],
            group_epoch=group_epoch,
            frank=frank if msg.kind == "application" else None,
            chain_seq=link[0] if chained and link else None,
            chain=link[1] if chained and link else None,
            first_contact=[s for s in first_contact if s.device_id in recipients]
            if msg.kind == "welcome" else [],
            ratchet_tree=tree() if tree is not None and msg.kind == "welcome" else None,
        ))

    return encode


def first_contact_of(req: m.CommitRequest) -> dict[str, bytes]:
    """The sealed first-contact requests by device (issue 18): one per device, each
    for a device this commit adds (a Welcome goes with it)."""
    sealed = {s.device_id: s.sealed for s in req.first_contact}
    if len(sealed) != len(req.first_contact) or not set(sealed) <= set(req.added):
        raise ValidationError("a sealed first-contact request is for a device the commit"
                              " adds, one per device", "Accord: first contact (T14)")
    return sealed


# the acceptance functions ---------------------------------------------------------------


async def accept_commit(fed: Federation, origin: Origin, group_id: bytes,
                        req: m.CommitRequest, now: int, group_info: bytes | None = None
                        ) -> m.CommitResponse:
    """Order a commit from any origin and fan it out everywhere (module docstring).
    ``group_info``: the new epoch's signed GroupInfo of a MIMI update (5.3, required
    there); otherwise ``req.group_info``'s, if any. Either is checked against the hub's
    state after the commit and kept for external joins (5.6); the posting key it
    carries, if any, is the request's. An external commit (``JOIN``) is the origin's
    device joining: its leaf names it."""
    kind = JOIN if mls_check.is_external_commit(req.commit) else COMMIT
    c = await _admit(fed, kind, origin, group_id, now)
    view = mls_check.view_commit(req.commit, group_id, req.epoch)
    sender, account = origin.sender, origin.account
    assert sender is not None and account is not None
    joiner = mls_check.joiner(view)
    if joiner is not None and joiner != (account, sender):
        raise AuthError("an external commit's leaf names another device than its sender")
    required = group_info is not None
    if group_info is None and req.group_info is not None:
        group_info = mls_check.group_info_body(req.group_info)
    if group_info is not None:
        carried = mls_check.carried_posting_key(group_info)
        if carried is not None and carried != req.posting_key:
            raise ValidationError("the GroupInfo's posting key is not the commit's",
                                  "docs/PROTOCOL.md accord-postingKey")
    if bool(req.added) != (req.welcome is not None):
        raise ValidationError("a Welcome goes with a commit that adds devices, and only then",
                              "RFC 9420 12.4.3.1")
    welcome_to = None if req.welcome is None else mls_check.welcome_recipients(req.welcome)
    sealed = first_contact_of(req)
    if req.added:  # consent (T14) for every origin: a local inviter's too (issue 18)
        c.allowed, c.requests = await consent.screen(fed, req.added, account, now)
    commit_msg = NewMessage(new_msg_id(), "commit", group_id, req.epoch, sender, req.commit, now)
    welcome = None
    if req.welcome is not None:
        welcome = NewMessage(new_msg_id(), "welcome", group_id, req.epoch + 1, sender,
                             req.welcome, now)
    change = CommitChange(group_id, req.epoch, sender, tuple(req.added), tuple(req.removed),
                          req.posting_key, ends_group=mls_check.ends_group(view),
                          joins=joiner is not None)
    # A follower says where each device it adds lives; the plan holds it to the
    # credential, whose account alone says where the device lives (issue 17).
    placed = {d.device_id: d.domain for d in origin.placed}
    plan = commit_plan.leaf_plan(view, change, welcome_to, placed,
                                 f"{account}/{sender}".encode(), req.commit, now, group_info,
                                 required)
    after: list[bytes | None] = [None]  # the next epoch's public state, once planned

    def planned(group: GroupRecord, accepted: Sequence[bytes], state: bytes | None
                ) -> tuple[Mapping[str, AddedLeaf], bytes | None]:
        out = plan(group, accepted, state)
        after[0] = out[1]
        return out

    def tree() -> bytes | None:  # the Welcome's tree (MIMI 5.5): the epoch it opens
        return None if after[0] is None else mls_check.tree_option(after[0])

    new_group, notified = await fed.provider.store.hub_commit(
        change, commit_msg, welcome, c.allowed,
        item_encoder(account, None, req.first_contact, tree),
        fed.domain, planned, c.requests, origin.peer, sealed, group_info,
    )
    await fed.provider.announce(notified)
    fed.wake_outbox()
    return m.CommitResponse(msg_id=commit_msg.msg_id, epoch=new_group.epoch)


async def accept_proposal(fed: Federation, origin: Origin, group_id: bytes,
                          req: m.ProposalRequest, now: int, msg_id: str | None = None
                          ) -> m.PostResponse:
    """``msg_id``: the id to keep it under (a MIMI bundle's, ``bundle_ids``); a new one
    by default."""
    c = await _admit(fed, PROPOSAL, origin, group_id, now)
    assert origin.sender is not None
    mls_check.check_proposal(req.proposal, c.group, origin.sender, req.epoch,
                             f"{origin.account}/{origin.sender}".encode())

    def check(accepted: Sequence[bytes], state: bytes | None) -> None:
        # on the locked group: two SelfRemoves of one member sent at once are one too many
        if state is not None:  # None: a group older than the hub's public state (T05)
            mls_check.check_proposal_public(req.proposal, state, now, accepted)

    msg = NewMessage(msg_id or new_msg_id(), "proposal", group_id, req.epoch, origin.sender,
                     req.proposal, now)
    p = fed.provider
    await p.announce(await p.store.hub_proposal(origin.sender, msg,
                                                item_encoder(origin.account), check))
    fed.wake_outbox()
    return m.PostResponse(msg_id=msg.msg_id)


async def accept_post(fed: Federation, origin: Origin, group_id: bytes,
                      post: m.ApplicationPost, now: int, group: GroupRecord | None = None
                      ) -> m.PostResponse:
    """A hidden-sender post: checked against the posting key, stored with no sender (T11).
    ``group``: the caller's read of the group in this request, if any."""
    msg_id, _ = await accept_post_franked(fed, origin, group_id, post, now, group)
    return m.PostResponse(msg_id=msg_id)


async def accept_post_franked(fed: Federation, origin: Origin, group_id: bytes,
                              post: m.ApplicationPost, now: int,
                              group: GroupRecord | None = None) -> tuple[str, bytes | None]:
    """:func:`accept_post`, answering the message id and the hub's encoded Frank (T13,
    MIMI 5.4.1.2; None for a post without a franking_tag), which MIMI's answer carries
    (5.4). The frank's sender URI is the user a MIMI submitter named; a hidden sender's
    is empty (``accord.privacy.server_frank``)."""
    p = fed.provider
    p.limiter.check("group", b64e(group_id), now)
    c = await _admit(fed, POST, origin, group_id, now, group)
    mls_check.check_application(post.ciphertext, group_id, post.epoch)

    def verify(posting_key: bytes) -> None:
        p.limiter.check("posting_key", b64e(posting_key), now)
        if not POSTING_KEY_SPEAKS[origin.kind]:
            return
        signing.verify(posting_key, post.signature,
                       signing.post_input(group_id, post.epoch, post.nonce, post.ciphertext))

    msg = NewMessage(new_msg_id(), "application", group_id, post.epoch, None, post.ciphertext,
                     now)
    named = mimi_user_uri(origin.account) if origin.kind == MIMI and origin.account else None
    frank = await franking.frank_post(fed, msg, named, c.group.epoch)  # T13: no sender kept
    notified = await p.store.hub_post(msg, post.nonce, now + p.config.retention_ms,
                                      item_encoder(None, frank=frank), verify, frank)
    await p.announce(notified)
    fed.wake_outbox()
    return msg.msg_id, frank


# the federation route: a follower's signed request, for one of its own devices ----------


async def fed_commit(fed: Federation, peer: str, req: fw.FedCommit, now: int
                     ) -> m.CommitResponse:
    origin = Origin(PEER, req.sender, req.sender_account, peer, tuple(req.added), req.commit)
    local = m.CommitRequest(epoch=req.epoch, commit=req.commit, posting_key=req.posting_key,
                            added=[d.device_id for d in req.added], removed=list(req.removed),
                            welcome=req.welcome, first_contact=list(req.first_contact),
                            group_info=req.group_info)
    return await accept_commit(fed, origin, req.group_id, local, now)


async def fed_proposal(fed: Federation, peer: str, req: fw.FedProposal, now: int
                       ) -> m.PostResponse:
    origin = Origin(PEER, req.sender, req.sender_account, peer)
    return await accept_proposal(fed, origin, req.group_id,
                                 m.ProposalRequest(epoch=req.epoch, proposal=req.proposal), now)


async def fed_post(fed: Federation, peer: str, req: fw.FedPost, now: int) -> m.PostResponse:
    post = m.ApplicationPost(epoch=req.epoch, nonce=req.nonce, ciphertext=req.ciphertext,
                             signature=req.signature)
    return await accept_post(fed, Origin(PEER, peer=peer), req.group_id, post, now)
