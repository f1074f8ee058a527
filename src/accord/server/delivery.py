"""The delivery service: group ordering at the hub, fan-out to per-device queues.

Handshake messages (commits, proposals) are attributable: they come with a
device session and the hub checks the committer's membership and the roster
change (first commit for an epoch wins, T07/T04). Application messages are
posted with no session at all (issue 11, T11): the post is signed with the
group's per-epoch posting key, and neither the request, the stored row nor
the log names the sender.
"""

from __future__ import annotations

import logging
import secrets

from accord.errors import NotFound, ValidationError
from accord.server import franking, mls_check
from accord.server.state import Provider
from accord.storage import CommitChange, DeviceRecord, EpochConflict, GroupRecord, NewMessage
from accord.storage import QueueItem as StoredItem
from accord.wire import b64e, signing
from accord.wire import messages as m

log = logging.getLogger("accord.server.delivery")


def new_msg_id() -> str:
    return b64e(secrets.token_bytes(16))


def _state(group: GroupRecord) -> m.GroupState:
    return m.GroupState(group.group_id, group.hub, group.epoch, list(group.members))


async def _member_group(p: Provider, by: DeviceRecord, group_id: bytes) -> GroupRecord:
    group = await p.store.get_group(group_id)
    # A non-member learns nothing, not even that the group exists (T08).
    if by.device_id not in group.members:
        raise NotFound("no such group")
    return group


async def create_group(
    p: Provider, by: DeviceRecord, req: m.CreateGroupRequest, now: int
) -> m.GroupState:
    group = await p.store.create_group(
        req.group_id, p.config.domain, by.device_id, req.posting_key, now
    )
    return _state(group)


async def get_group(p: Provider, by: DeviceRecord, group_id: bytes) -> m.GroupState:
    return _state(await _member_group(p, by, group_id))


async def commit(
    p: Provider, by: DeviceRecord, group_id: bytes, req: m.CommitRequest, now: int
) -> m.CommitResponse:
    group = await _member_group(p, by, group_id)
    if bool(req.added) != (req.welcome is not None):
        raise ValidationError("a Welcome goes with a commit that adds devices, and only then")
    view = mls_check.view_commit(req.commit, group_id, req.epoch)
    if req.welcome is not None:
        mls_check.check_welcome(req.welcome, view)
    if p.federation is not None:
        return await p.federation.commit(by, group, req, now)  # type: ignore[no-any-return]
    if group.hub != p.config.domain:
        raise ValidationError("this provider is not the hub of this group")
    commit_msg = NewMessage(new_msg_id(), "commit", group_id, req.epoch, by.device_id,
                            req.commit, now)
    welcome = None
    if req.welcome is not None:
        welcome = NewMessage(new_msg_id(), "welcome", group_id, req.epoch + 1, by.device_id,
                             req.welcome, now)
    change = CommitChange(group_id, req.epoch, by.device_id, tuple(req.added),
                          tuple(req.removed), req.posting_key)
    link = await franking.chain_link(p, group_id, req.epoch, req.commit)  # T07
    new_group, notified = await p.store.apply_commit(
        change, commit_msg, welcome, mls_check.leaf_plan(view, change)
    )
    await franking.file_chain(p, [x.msg_id for x in (commit_msg, welcome) if x is not None],
                              group_id, req.epoch, link)
    await p.announce(notified)
    return m.CommitResponse(msg_id=commit_msg.msg_id, epoch=new_group.epoch)


async def propose(
    p: Provider, by: DeviceRecord, group_id: bytes, req: m.ProposalRequest, now: int
) -> m.PostResponse:
    group = await _member_group(p, by, group_id)
    mls_check.check_proposal(req.proposal, group, by.device_id, req.epoch)
    if p.federation is not None:
        return await p.federation.propose(by, group, req, now)  # type: ignore[no-any-return]
    msg = NewMessage(new_msg_id(), "proposal", group_id, req.epoch, by.device_id,
                     req.proposal, now)
    await p.announce(await p.store.post_handshake(by.device_id, msg))
    return m.PostResponse(msg_id=msg.msg_id)


async def post_application(
    p: Provider, group_id: bytes, req: m.ApplicationPost, now: int
) -> m.PostResponse:
    """Accept a hidden-sender post signed under the current or previous epoch's posting key."""
    p.limiter.check("group", b64e(group_id), now)
    mls_check.check_application(req.ciphertext, group_id, req.epoch)
    group = await p.store.get_group(group_id)
    if p.federation is not None:
        return await p.federation.post_application(group, req, now)  # type: ignore[no-any-return]
    if req.epoch not in (group.epoch, group.epoch - 1):
        raise EpochConflict(group.epoch)
    posting_key = await p.store.get_posting_key(group_id, req.epoch)
    p.limiter.check("posting_key", b64e(posting_key), now)
    signing.verify(
        posting_key,
        req.signature,
        signing.post_input(group_id, req.epoch, req.nonce, req.ciphertext),
    )
    msg = NewMessage(new_msg_id(), "application", group_id, req.epoch, None, req.ciphertext, now)
    await franking.tag_post(p, msg)  # T13: filed before any recipient can fetch the item
    # A nonce is remembered as long as the message could still be delivered.
    notified = await p.store.post_application(msg, req.nonce, now + p.config.retention_ms)
    await p.announce(notified)
    return m.PostResponse(msg_id=msg.msg_id)


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
