"""The hub: the provider where a conversation was created orders it for every provider.

It holds the one total order of the group's handshake messages (first commit
for an epoch wins) and fans every accepted message out to its own devices'
queues and, through the outbound queue, to the followers that host the other
members. It accepts from a follower only what one of that follower's own
member devices sent: a commit or proposal whose sender is a device the hub
knows to be hosted by the requesting provider and in the roster, and
application posts only from a provider that hosts a member, checked against
the group's posting key (the sender stays hidden, T11).

The roster is the device list the hub keeps per group, changed by each
accepted commit's ``added``/``removed`` (as the delivery service does for a
single provider).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import AuthError, ValidationError
from accord.federation import consent
from accord.server import franking, mls_check
from accord.server.delivery import new_msg_id
from accord.storage import CommitChange, DeviceRecord, EpochConflict, GroupRecord, NewMessage
from accord.storage.federation_sql import ItemEncoder, Roster
from accord.wire import b64e, dumps, signing
from accord.wire import federation as fw
from accord.wire import messages as m

if TYPE_CHECKING:
    from accord.federation.service import Federation


def item_encoder(sender_account: str | None, franking_tag: bytes | None = None,
                 link: tuple[int, bytes] | None = None) -> ItemEncoder:
    """How the hub writes one outbox item; application items never name a sender.

    ``franking_tag`` (T13) goes with an application item, ``link`` (the hub's
    chain link, T07) with a commit and its Welcome (issue 11).
    """

    def encode(msg: NewMessage, recipients: list[str], roster: Roster | None,
               group_epoch: int | None) -> bytes:
        assert msg.group_id is not None and msg.epoch is not None
        attributable = msg.sender is not None
        return dumps(fw.FedItem(
            msg_id=msg.msg_id, kind=msg.kind, group_id=msg.group_id, epoch=msg.epoch,
            body=msg.body, created_at=msg.created_at, recipients=recipients,
            sender=msg.sender if attributable else None,
            sender_account=sender_account if attributable else None,
            roster=None if roster is None else [fw.FedDevice(d, dom) for d, dom in roster],
            group_epoch=group_epoch,
            franking_tag=franking_tag if msg.kind == "application" else None,
            chain_seq=link[0] if link and msg.kind in ("commit", "welcome") else None,
            chain=link[1] if link and msg.kind in ("commit", "welcome") else None,
        ))

    return encode


def _require_hub(fed: Federation, group: GroupRecord) -> None:
    if group.hub != fed.domain:
        raise ValidationError("this provider is not the hub of this group")


async def apply_commit(
    fed: Federation, group: GroupRecord, sender: str, sender_account: str,
    req: m.CommitRequest, now: int, remote_sender: bool = False,
) -> m.CommitResponse:
    """Order a commit (from a local device or forwarded) and fan it out everywhere."""
    p = fed.provider
    _require_hub(fed, group)
    if bool(req.added) != (req.welcome is not None):
        raise ValidationError("a Welcome goes with a commit that adds devices, and only then")
    gid = group.group_id
    commit_msg = NewMessage(new_msg_id(), "commit", gid, req.epoch, sender, req.commit, now)
    welcome = None
    if req.welcome is not None:
        welcome = NewMessage(new_msg_id(), "welcome", gid, req.epoch + 1, sender, req.welcome,
                             now)
    change = CommitChange(gid, req.epoch, sender, tuple(req.added), tuple(req.removed),
                          req.posting_key)
    # The same public checks of the MLS commit and Welcome as for one provider.
    view = mls_check.view_commit(req.commit, gid, req.epoch)
    if req.welcome is not None:
        mls_check.check_welcome(req.welcome, view)
    allowed: set[str] | None = None
    requests: list[tuple[str, str]] = []
    if remote_sender and req.added:
        allowed, requests = await consent.screen(fed, req.added, sender_account, now)
    link = await franking.chain_link(p, gid, req.epoch, req.commit)  # T07
    new_group, notified = await p.store.fed_apply_commit(
        change, commit_msg, welcome, allowed, item_encoder(sender_account, link=(req.epoch, link)),
        fed.domain, requests, mls_check.leaf_plan(view, change),
    )
    await franking.file_chain(p, [x.msg_id for x in (commit_msg, welcome) if x is not None],
                              gid, req.epoch, link)
    await p.announce(notified)
    fed.wake_outbox()
    return m.CommitResponse(msg_id=commit_msg.msg_id, epoch=new_group.epoch)


async def post_handshake(fed: Federation, group: GroupRecord, sender: str, sender_account: str,
                         epoch: int, proposal: bytes, now: int) -> m.PostResponse:
    p = fed.provider
    _require_hub(fed, group)
    msg = NewMessage(new_msg_id(), "proposal", group.group_id, epoch, sender, proposal, now)
    await p.announce(await p.store.fed_post_handshake(sender, msg, item_encoder(sender_account)))
    fed.wake_outbox()
    return m.PostResponse(msg_id=msg.msg_id)


async def post_application(fed: Federation, group: GroupRecord, post: m.ApplicationPost,
                           now: int) -> m.PostResponse:
    """A hidden-sender post: checked against the posting key, stored with no sender (T11)."""
    p = fed.provider
    _require_hub(fed, group)
    gid = group.group_id
    if post.epoch not in (group.epoch, group.epoch - 1):
        raise EpochConflict(group.epoch)
    posting_key = await p.store.get_posting_key(gid, post.epoch)
    p.limiter.check("posting_key", b64e(posting_key), now)
    signing.verify(posting_key, post.signature,
                   signing.post_input(gid, post.epoch, post.nonce, post.ciphertext))
    msg = NewMessage(new_msg_id(), "application", gid, post.epoch, None, post.ciphertext, now)
    tag = await franking.tag_post(p, msg)  # T13: the hub's tag, no sender involved
    notified = await p.store.fed_post_application(
        msg, post.nonce, now + p.config.retention_ms, item_encoder(None, franking_tag=tag)
    )
    await p.announce(notified)
    fed.wake_outbox()
    return m.PostResponse(msg_id=msg.msg_id)


# what followers send ------------------------------------------------------------------


async def _sender_of(fed: Federation, peer: str, group: GroupRecord, sender: str,
                     sender_account: str) -> None:
    """The sender must be a member device that the requesting provider itself hosts."""
    where = await fed.provider.store.fed_locate([sender])
    if sender not in group.members or where.get(sender) != peer:
        raise AuthError("the sender is not a member device hosted by the requesting provider")
    if sender_account.rsplit("@", 1)[-1] != peer:
        raise AuthError("the sender's account is not hosted by the requesting provider")


def _added_domains(commit: bytes) -> dict[str, str]:
    """Device id -> its account's domain, for each Add of a PublicMessage commit.

    The credential identity is ``account/device_id`` (see ``mls_check``); a
    commit in a PrivateMessage shows no proposals, so it gives nothing.
    """
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs import Add, Commit
    from accord.mls.structs.messages import MLSMessage, PublicMessage

    msg = mls_decode(MLSMessage, commit).message
    if not isinstance(msg, PublicMessage) or not isinstance(msg.content.content, Commit):
        return {}
    out: dict[str, str] = {}
    for proposal in msg.content.content.proposals:
        if isinstance(proposal, Add):
            identity = proposal.key_package.leaf_node.credential.identity or b""
            account = identity.decode(errors="replace").rsplit("/", 1)[0]
            out[mls_check.identity_device(identity)] = account.rsplit("@", 1)[-1]
    return out


async def accept_commit(fed: Federation, peer: str, req: fw.FedCommit, now: int
                        ) -> m.CommitResponse:
    p = fed.provider
    group = await p.store.get_group(req.group_id)
    _require_hub(fed, group)
    await _sender_of(fed, peer, group, req.sender, req.sender_account)
    fed.limiter.check("remote_sender", req.sender_account, now)
    # A follower cannot say that a device lives elsewhere than its credential says.
    domains = _added_domains(req.commit)
    if any(domains.get(d.device_id, d.domain) != d.domain for d in req.added):
        raise ValidationError("an added device is not hosted where its credential says")
    await p.store.fed_register_devices([(d.device_id, d.domain) for d in req.added], fed.domain)
    local = m.CommitRequest(epoch=req.epoch, commit=req.commit, posting_key=req.posting_key,
                            added=[d.device_id for d in req.added], removed=list(req.removed),
                            welcome=req.welcome)
    return await apply_commit(fed, group, req.sender, req.sender_account, local, now,
                              remote_sender=True)


async def accept_proposal(fed: Federation, peer: str, req: fw.FedProposal, now: int
                          ) -> m.PostResponse:
    group = await fed.provider.store.get_group(req.group_id)
    _require_hub(fed, group)
    await _sender_of(fed, peer, group, req.sender, req.sender_account)
    fed.limiter.check("remote_sender", req.sender_account, now)
    return await post_handshake(fed, group, req.sender, req.sender_account, req.epoch,
                                req.proposal, now)


async def accept_post(fed: Federation, peer: str, req: fw.FedPost, now: int) -> m.PostResponse:
    p = fed.provider
    p.limiter.check("group", b64e(req.group_id), now)
    group = await p.store.get_group(req.group_id)
    _require_hub(fed, group)
    where = await p.store.fed_locate(group.members)
    if peer not in where.values():
        raise AuthError("the requesting provider hosts no member of this group")
    post = m.ApplicationPost(epoch=req.epoch, nonce=req.nonce, ciphertext=req.ciphertext,
                             signature=req.signature)
    return await post_application(fed, group, post, now)


async def local_commit(fed: Federation, by: DeviceRecord, group: GroupRecord,
                       req: m.CommitRequest, now: int) -> m.CommitResponse:
    return await apply_commit(fed, group, by.device_id, by.account, req, now)
