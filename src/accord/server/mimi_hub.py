"""The hub's side of the MIMI transport (draft-ietf-mimi-protocol-06): a follower
provider hands the hub a room's messages.

- ``POST /mimi/v1/update/{roomId}`` (5.3): a commit bundle or proposals, through
  the hub's one commit and proposal acceptance (:func:`accord.federation.hub.
  accept_commit`, ``accept_proposal``, origin ``PEER``: the sender is the member
  at the message's leaf, a device the peer hosts, or, for an external commit
  (3.6, "Cathy adds a new device"), the new device its leaf names, of a user of
  the peer with a member device in the room); a commit's GroupInfo is checked
  against the hub's MLS state after it and kept for external joins.
- ``POST /mimi/v1/submitMessage/{roomId}`` (5.4): an MLS PrivateMessage holding
  an application message, through the hub's one post acceptance
  (:func:`accord.federation.hub.accept_post_franked`, origin ``MIMI``).
- ``POST /mimi/v1/groupInfo/{roomId}`` (5.6): the room's current GroupInfo (from the
  last accepted commit that carried one), the hub's own ratchet tree and the
  epoch's pending proposals, encrypted to the requester, for a user of the
  signing peer who already has a member device in the room (a new device).

Each handler answers for rooms this provider hubs only (404 otherwise: no
relaying). The signing peer speaks only for its own users: the ``sendingUri``
is one of its users with a member device of the room that the peer hosts
(``hub.ORIGIN_CHECKS``). The sender is checked and then forgotten: the
message is stored and fanned out with no sender, as every Accord post (T11).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

from accord.errors import AuthError, Conflict, CryptoError, EpochConflict, NotFound, ValidationError
from accord.federation import franking, hub, mls_check
from accord.federation.service import Federation, requester_of
from accord.mls.structs import Credential, ExternalSender, GroupInfo
from accord.mls.structs.enums import SenderType
from accord.mls.structs.messages import MLSMessage, PrivateMessage, PublicMessage
from accord.mls.structs.tree_nodes import HPKECiphertext
from accord.mls.suites import SUITES, get_suite
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire.accounts import domain_of

# A MIMI commit whose GroupInfo carries no Accord posting key (T11, a committer that
# is not Accord's): the epoch it opens takes posts over MIMI (submitMessage) only,
# until an Accord member commits again.
NO_POSTING_KEY = bytes(32)
COMMIT = 3
MAX_DESCRIPTION = 512


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
        _, frank = await hub.accept_post_franked(fed, origin, group_id, post, now)
    except EpochConflict as exc:
        current = exc.current_epoch
        if current is not None and epoch < current:
            return w.SubmitMessageResponse(w.MLS10, w.SubmitResponseCode.EPOCH_TOO_OLD,
                                           current_epoch=current)
        # an epoch the hub has not reached is nonsense (5.4: notAllowed)
        return w.SubmitMessageResponse(w.MLS10, w.SubmitResponseCode.NOT_ALLOWED)
    return w.SubmitMessageResponse(w.MLS10, w.SubmitResponseCode.ACCEPTED,
                                   accepted_timestamp=now, frank=franking.as_frank(frank))


def _epoch(message: object) -> int:
    """A PrivateMessage's epoch; the hub's check (``mls_check.check_application``, in
    ``accept_post_franked``) refuses any other message, whatever this says."""
    return int(message.epoch) if isinstance(message, PrivateMessage) else 0


# ------------------------------------------------------------------ 5.3 update room

async def update_room(fed: Federation, peer: str, req: w.UpdateRequest, target: str, now: int,
                      first_contact: Sequence[m.SealedFirstContact] = ()
                      ) -> w.UpdateRoomResponse:
    """A commit (with its Welcome and GroupInfo) or proposals, each through the hub's
    one acceptance. A closed epoch is ``wrongEpoch``; proposals the MLS rules refuse
    (of the bundle, or a commit's references to none the hub accepted) are
    ``invalidProposal`` with their ProposalRefs; anything else the hub's checks
    refuse (signature, room policy, roster) is ``notAllowed`` with the reason; a
    sender the peer does not host is refused outright (401), as on every peer route.
    ``first_contact``: a commit's sealed requests (accord-firstContact, issue 18), held
    to the commit as on Accord's route (``hub.first_contact_of``)."""
    group_id = hubbed_room(fed, target)
    bundle = req.bundle
    code = w.UpdateResponseCode
    try:
        if bundle.proposal_or_commit.content_type == COMMIT:
            await _commit(fed, peer, group_id, bundle, now, first_contact)
        elif first_contact:
            raise ValidationError("sealed first-contact requests go with a commit that adds"
                                  " devices", "Accord: first contact (T14)")
        else:  # every sender is checked before any proposal is taken
            messages = (bundle.proposal_or_commit, *(bundle.more_proposals or ()))
            taken = []
            for message in messages:
                msg, account, device = await _member_sender(fed, group_id, message)
                origin = hub.Origin(hub.PEER, device, account, peer)
                await hub.admit_origin(fed, hub.PROPOSAL, origin, group_id, now)
                taken.append((origin, m.ProposalRequest(epoch=msg.content.epoch,
                                                        proposal=message.to_bytes())))
            await _all_valid(fed, group_id, [p for _, p in taken], now)
            ids = hub.bundle_ids(len(taken))  # fanned out together (5.5 moreProposals)
            for (origin, proposal), msg_id in zip(taken, ids, strict=True):
                await hub.accept_proposal(fed, origin, group_id, proposal, now, msg_id)
    except EpochConflict as exc:
        current = exc.current_epoch
        if current is None:
            current = (await fed.provider.store.get_group(group_id)).epoch
        return w.UpdateRoomResponse(code.WRONG_EPOCH, str(exc).encode(), current_epoch=current)
    except mls_check.InvalidProposal as exc:  # invalid, rather than disallowed (5.3)
        return w.UpdateRoomResponse(code.INVALID_PROPOSAL, str(exc).encode()[:MAX_DESCRIPTION],
                                    invalid_proposals=exc.refs)
    except ValidationError as exc:
        return w.UpdateRoomResponse(code.NOT_ALLOWED, str(exc).encode()[:MAX_DESCRIPTION])
    return w.UpdateRoomResponse(code.SUCCESS, b"", accepted_timestamp=now)


async def _all_valid(fed: Federation, group_id: bytes, proposals: list[m.ProposalRequest],
                     now: int) -> None:
    """A bundle's proposals are all valid before any is taken, each beside the epoch's
    accepted proposals and those before it in the bundle; the invalid ones are named
    together (5.3 ``invalidProposal``). ``hub.accept_proposal`` checks each again, in
    its transaction."""
    store = fed.provider.store
    public = await store.hub_public_state(group_id)
    if public is None:  # a group older than the hub's public state: no MLS checks (T05)
        return
    if any(p.epoch != public[0] for p in proposals):
        raise EpochConflict(public[0])
    accepted = [body for body, _ in await store.hub_epoch_proposals(group_id, public[0])]
    refused: list[mls_check.InvalidProposal] = []
    for p in proposals:
        try:
            mls_check.check_proposal_public(p.proposal, public[1], now, accepted)
            accepted.append(p.proposal)
        except mls_check.InvalidProposal as exc:
            refused.append(exc)
    if refused:
        raise mls_check.InvalidProposal(refused[0].cause, refused[0].rule,
                                        [ref for exc in refused for ref in exc.refs])


async def _committer(fed: Federation, group_id: bytes, message: MLSMessage
                     ) -> tuple[PublicMessage, str, str]:
    """A commit's sender: a member (``_member_sender``), or the device an external
    commit's new leaf names."""
    msg, raw = message.message, message.to_bytes()
    if mls_check.is_external_commit(raw):
        assert isinstance(msg, PublicMessage)
        joiner = mls_check.joiner(mls_check.view_commit(raw, group_id, msg.content.epoch))
        assert joiner is not None  # a new member's commit
        return msg, joiner[0], joiner[1]  # the peer's own user: hub.ORIGIN_CHECKS
    return await _member_sender(fed, group_id, message)


async def _member_sender(fed: Federation, group_id: bytes, message: MLSMessage
                         ) -> tuple[PublicMessage, str, str]:
    """The PublicMessage and its sender: the member device at its leaf and the account
    its credential names in the hub's MLS state. Not a member: 401."""
    msg = message.message
    if not isinstance(msg, PublicMessage):
        raise ValidationError("a handshake message travels to the hub in a PublicMessage",
                              "Accord hub: handshake in PublicMessage (RFC 9420 6.2)")
    sender = msg.content.sender
    if sender.sender_type != SenderType.MEMBER or sender.index is None:
        raise ValidationError("only members' handshake messages are ordered by this hub",
                              "RFC 9420 12.4")
    store = fed.provider.store
    group = await store.get_group(group_id)
    public = await store.hub_public_state(group_id)
    device = {leaf: d for d, leaf in zip(group.members, group.leaves, strict=False)}.get(
        sender.index)
    member = None if public is None else mls_check.leaf_member(public[1], sender.index)
    if device is None or member is None:
        raise AuthError("the sender is not a member of this room")
    return msg, member[0], device


async def _commit(fed: Federation, peer: str, group_id: bytes, bundle: w.HandshakeBundle,
                  now: int, first_contact: Sequence[m.SealedFirstContact] = ()) -> None:
    """A member's commit, or a new device's external commit (3.6: its user already has
    a member device in the room, as for its GroupInfo, 5.6; ``hub.JOIN``)."""
    msg, account, device = await _committer(fed, group_id, bundle.proposal_or_commit)
    raw = bundle.proposal_or_commit.to_bytes()
    epoch = msg.content.epoch
    store = fed.provider.store
    group = await store.get_group(group_id)
    public = await store.hub_public_state(group_id)
    if public is not None and public[0] != epoch:
        raise EpochConflict(public[0])
    # The declared change is read from the commit as the hub's MLS checks resolve it;
    # the hub's transaction checks it again on the locked group (commit_plan.leaf_plan).
    view = mls_check.view_commit(raw, group_id, epoch)
    accepted = [body for body, _ in await store.hub_epoch_proposals(group_id, epoch)]
    effects = mls_check.commit_effects(raw, view, None if public is None else public[1],
                                       accepted, now)
    at = {leaf: d for d, leaf in zip(group.members, group.leaves, strict=False)}
    at.update({leaf: m.erased_leaf(leaf) for leaf in group.erased})
    if any(leaf not in at for leaf in effects.removed_leaves):
        raise ValidationError("a Remove names no member", "RFC 9420 12.1.3")
    placed = tuple(fw.FedDevice(d, domain_of(a))
                   for d, a in zip(effects.added, effects.added_accounts, strict=True))
    welcome = bundle.welcome.welcome if bundle.welcome is not None else None
    assert bundle.group_info_option is not None  # a commit's bundle has one (wire.mimi)
    info = bundle.group_info_option.group_info.to_bytes()
    # The committer's signed GroupInfo may carry Accord's posting key (T11) for the new
    # epoch (accord.wire.posting_component); accept_commit checks that signature.
    posting_key = mls_check.carried_posting_key(info) or NO_POSTING_KEY
    req = m.CommitRequest(epoch=epoch, commit=raw, posting_key=posting_key,
                          added=list(effects.added),
                          removed=[at[leaf] for leaf in effects.removed_leaves],
                          welcome=None if welcome is None
                          else MLSMessage.wrap(welcome).to_bytes(),
                          first_contact=list(first_contact))
    origin = hub.Origin(hub.PEER, device, account, peer, placed, raw)
    await hub.accept_commit(fed, origin, group_id, req, now, info)



# ------------------------------------------------------------------ 5.6 claim group info

async def group_info(fed: Federation, peer: str, req: w.GroupInfoRequest, target: str,
                     now: int) -> w.GroupInfoResponse:
    """Accord decides who may join externally: a user of the signing peer who already
    has a member device in the room (a new device of hers, 5.6 case a), named by the
    requester's basic credential ``account/device`` and proven by its signature over
    GroupInfoRequestTBS. Joining codes are not offered (``notAuthorized``); an unknown
    room looks like a refused one (T08). The response is signed with the provider's
    Ed25519 key as ``hub_sender``, so only Ed25519 suites are answered."""
    group_id = hubbed_room(fed, target)
    suite = _hub_suite(fed, req.cipher_suite)
    try:
        suite.verify_with_label(req.requesting_signature_key, req.SIGN_LABEL, req.tbs(),
                                req.signature)
    except CryptoError as exc:
        raise AuthError("the requester's signature does not verify (MIMI 5.6)") from exc
    account = requester_of(peer, mls_check.identity_device_account(
        req.requesting_credential.identity))
    room = target.encode()
    refused = w.GroupInfoResponse(w.MLS10, room, w.GroupInfoCode.NOT_AUTHORIZED)
    store = fed.provider.store
    try:
        group = await store.get_group(group_id)
    except NotFound:
        return refused
    public = await store.hub_public_state(group_id)
    if (group.hub != fed.domain or public is None or req.joining_code
            or not mls_check.member_devices(public[1], account)):
        return refused
    fed.limiter.check("sender", account, now)
    current = await store.hub_group_info(group_id)
    if current is None or current[0] != group.epoch or public[0] != group.epoch:
        raise Conflict("the hub has no GroupInfo of the room's current epoch: the last"
                       " commit carried none (MIMI 5.6)")
    info = GroupInfo.from_bytes(current[1])
    pending = tuple(w.PendingProposal(MLSMessage.from_bytes(body), at)
                    for body, at in await store.hub_epoch_proposals(group_id, group.epoch))
    tree = w.RatchetTreeOption.from_bytes(mls_check.tree_option(public[1]))
    tbe = w.GroupInfoRatchetTreeTBE(info, tree, pending)
    kem_output, ciphertext = suite.encrypt_with_label(
        req.group_info_public_key, w.GroupInfoResponse.ENCRYPT_LABEL, room, tbe.to_bytes())
    unsigned = w.GroupInfoResponse(
        w.MLS10, room, w.GroupInfoCode.SUCCESS, req.cipher_suite,
        ExternalSender(fed.key.public, Credential.basic(fed.domain.encode())),
        HPKECiphertext(kem_output, ciphertext), b"")
    signature = suite.sign_with_label(fed.key.raw(), w.GroupInfoResponse.SIGN_LABEL,
                                      unsigned.tbs())
    return dataclasses.replace(unsigned, signature=signature)


def _hub_suite(fed: Federation, cipher_suite: int) -> Any:
    """The requested suite, if the provider's Ed25519 key is a signature key of it."""
    if cipher_suite in SUITES:
        suite = get_suite(cipher_suite)
        try:
            if suite.signature_public_key(fed.key.raw()) == fed.key.public:
                return suite
        except (CryptoError, ValueError):
            pass
    raise ValidationError("this hub answers for cipher suites with Ed25519 signatures only",
                          "MIMI 5.6 (docs/INTEROP.md)")
