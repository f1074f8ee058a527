"""The delivery service: group ordering at the hub, fan-out to per-device queues.

Handshake messages (commits, proposals) are attributable: they come with a
device session. Application messages are posted with no session at all
(issue 11, T11): the post is signed with the group's per-epoch posting key,
and neither the request, the stored row nor the log names the sender; only a
group whose hub takes messages over MIMI, which names the sender, takes posts
under a session (``named_sender``, ``accord.federation.mimi_post``). What
the hub accepts is decided by :mod:`accord.federation.hub`, the one
acceptance path for local devices and follower providers alike.
"""

from __future__ import annotations

import logging

from accord.errors import NotFound, PeerUnavailable, SenderRequired
from accord.federation import franking, mimi_chain, mimi_ext, mls_check
from accord.server.state import Provider
from accord.storage import DeviceRecord, GroupRecord
from accord.storage import QueueItem as StoredItem
from accord.wire import b64e
from accord.wire import messages as m

log = logging.getLogger("accord.server.delivery")


async def named_sender(p: Provider, group: GroupRecord, now: int) -> bool:
    """Posts to ``group`` name their sender: its hub is elsewhere, gets room traffic over
    MIMI (``Federation.mimi_to``) and lists no ``accord-hiddenSenders``, so they go to
    its submitMessage, which names it (the one decision, ``federation.mimi_ext``)."""
    return await mimi_ext.named_posts(p.federation, group, now)


async def _state(p: Provider, group: GroupRecord, hub_links: bool = True) -> m.GroupState:
    try:
        named = await named_sender(p, group, p.clock())
    except PeerUnavailable:  # the hub's directory unreadable now: a post asks again
        named = False
    return m.GroupState(group.group_id, group.hub, group.epoch, list(group.members),
                        list(group.erased), named, hub_links)


async def _member_group(p: Provider, by: DeviceRecord, group_id: bytes) -> GroupRecord:
    group = await p.store.get_group(group_id)
    # A non-member learns nothing, not even that the group exists (T08).
    if not group.has_local(by.device_id):
        raise NotFound("no such group")
    return group


async def create_group(
    p: Provider, by: DeviceRecord, req: m.CreateGroupRequest, now: int
) -> m.GroupState:
    state = mls_check.initial_state(req.group_info, req.group_id, by, now)
    group = await p.store.create_group(
        req.group_id, p.config.domain, by.device_id, req.posting_key, now, state
    )
    return await _state(p, group)


async def get_group(p: Provider, by: DeviceRecord, group_id: bytes) -> m.GroupState:
    group = await _member_group(p, by, group_id)
    # a group followed over MIMI fan-out gets chain links only from a hub that offers
    # them (``mimi_follower``, accord-forkDetection)
    followed = group.hub != p.config.domain and await p.store.mimi_view(group_id) is not None
    links = await mimi_chain.hub_links(p.federation, group.hub, followed, p.clock())
    return await _state(p, group, hub_links=links)


# A running provider always runs federation (accord.server.app): a group is
# either hubbed here, and the hub's one acceptance path decides, or hubbed
# elsewhere, and the message goes to that hub, which decides. (Imported in
# the functions: the federation modules import the server's routes.)


async def commit(
    p: Provider, by: DeviceRecord, group_id: bytes, req: m.CommitRequest, now: int
) -> m.CommitResponse:
    from accord.federation import follower, hub

    group = await p.store.get_group(group_id)
    if group.hub != p.config.domain:
        await _member_group(p, by, group_id)  # forward only for our own members
        done = await follower.forward_commit(p.federation, by, group, req, now)
    else:
        done = await hub.accept_commit(
            p.federation, hub.Origin(hub.DEVICE, by.device_id, by.account), group_id, req, now)
    # Whom our user invited is whom it consents to hear from (T14): their own
    # invitations to it later are no message requests (blocks still hold).
    invited = mls_check.invited_accounts(req.commit, group_id, req.epoch) - {by.account}
    if invited:
        await p.store.fed_add_contacts(by.account, invited)
    return done


async def propose(
    p: Provider, by: DeviceRecord, group_id: bytes, req: m.ProposalRequest, now: int
) -> m.PostResponse:
    from accord.federation import follower, hub

    group = await p.store.get_group(group_id)
    if group.hub != p.config.domain:
        await _member_group(p, by, group_id)  # forward only for our own members
        return await follower.forward_proposal(p.federation, by, group, req, now)
    return await hub.accept_proposal(p.federation,
                                     hub.Origin(hub.DEVICE, by.device_id, by.account),
                                     group_id, req, now)


async def post_application(
    p: Provider, group_id: bytes, req: m.ApplicationPost, now: int,
    by: DeviceRecord | None = None,
) -> m.PostResponse:
    """A hidden-sender post (no session): the hub checks it against the posting key.

    A group whose posts name their sender (:func:`named_sender`) takes posts with a
    session only, ``by``: its device must be a member, and its account is named to
    the hub. Anywhere else a session, if one came, is not used."""
    from accord.federation import follower, hub, mimi_post

    group = await p.store.get_group(group_id)
    if group.hub != p.config.domain:
        p.limiter.check("group", b64e(group_id), now)
        route = await mimi_ext.post_route(p.federation, group, now)
        if not route.named and route.url is None:  # hidden (T11), Accord's peer route
            return await follower.forward_post(p.federation, group, req, now)
        if not route.named:  # hidden (T11), at the hub's accord-hiddenSenders URL
            return await mimi_ext.post_hidden(p.federation, group, route, req, now)
        if by is None:
            raise SenderRequired("this group's hub takes messages over MIMI, which names"
                                 " their sender: post with the device's session"
                                 " (GroupState.named_sender)")
        return await mimi_post.submit(p.federation, by, group, req, now)
    return await hub.accept_post(p.federation, hub.Origin(hub.DEVICE), group_id, req, now,
                                 group)


def queue_item(item: StoredItem) -> m.QueueItem:
    return m.QueueItem(
        seq=item.seq,
        msg_id=item.msg_id,
        kind=item.kind,
        body=item.body,
        created_at=item.created_at,
        group_id=item.group_id,
        epoch=item.epoch,
        sender=item.sender,
    )


async def fetch(p: Provider, by: DeviceRecord, after: int, limit: int) -> m.QueuePage:
    limit = max(1, min(limit, p.config.max_queue_page))
    items = await p.store.fetch_queue(by.device_id, after, limit)
    return m.QueuePage(
        items=await franking.decorate(p, [queue_item(i) for i in items]),
        next_after=items[-1].seq if items else after,
    )


async def ack(p: Provider, by: DeviceRecord, req: m.AckRequest) -> m.AckResponse:
    return m.AckResponse(removed=await p.store.ack_queue(by.device_id, req.up_to))


async def purge(p: Provider, now: int) -> dict[str, int]:
    """Drop what is past retention; ``now`` comes from the caller's clock."""
    counts = await p.store.purge(
        now, now - p.config.retention_ms, now - p.config.blob_retention_ms
    )
    counts["franking"] = await franking.purge(p, now)
    log.info("retention purge: %s", counts)
    return counts
