"""A provider's MIMI requests for its own devices (draft-ietf-mimi-protocol-06), sent
instead of Accord's peer routes when it runs with ``--mimi-transport`` (``Federation.mimi``):

- a commit or proposal for a room hubbed elsewhere: ``POST /mimi/v1/update/{roomId}``
  (5.3) with a HandshakeBundle; the commit's bundle takes the new epoch's GroupInfo
  and ratchet tree the device sent (``CommitRequest.group_info``, which must carry the
  request's posting key, ``accord.wire.posting_component``, and ``ratchet_tree``);
  its sealed first-contact requests (issue 18) go with it, in an accord-firstContact
  carrier, to a hub that lists that extension, and to no other
  (:mod:`accord.federation.mimi_first_contact`);
- a KeyPackage claim: ``POST /mimi/v1/keyMaterial/{targetUser}`` (5.2), for a group
  hubbed elsewhere to that group's hub with its ``roomId`` (5.2: "MUST be sent via the
  hub provider of whatever room they will be used in"; the hub relays it to the
  target's provider, ``accord.server.mimi_relay``), else to the target's provider.

Each answer becomes what Accord's own route answers, so the device sees the same
typed errors either way: ``wrongEpoch`` is an ``EpochConflict`` naming the hub's
epoch, ``notAllowed`` and ``invalidProposal`` a ``ValidationError`` with the hub's
reason; a user the provider does not know is ``NotFound``; one who gave no consent is
``NoConsent`` (naming the claim's room), which ``follower.claim`` turns into a consent
request (5.7, ``accord.federation.consent_out``) and ``ConsentRequested``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from accord.errors import DecodeError, EpochConflict, NoConsent, NotFound, ValidationError
from accord.federation import mimi_first_contact
from accord.mls.codec import WireStruct, decode
from accord.mls.structs import (
    Credential,
    GroupInfo,
    KeyPackage,
    MLSMessage,
    RequiredCapabilities,
)
from accord.mls.structs.credential import find_extension
from accord.mls.structs.enums import ExtensionType
from accord.mls.structs.tree_nodes import RatchetTree
from accord.mls.structs.welcome import Welcome
from accord.mls.suites import get_suite
from accord.storage import DeviceRecord, GroupRecord
from accord.wire import b64e, mimi_accord
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire.accounts import domain_of
from accord.wire.posting_component import RULE as POSTING_RULE
from accord.wire.posting_component import posting_key_of

if TYPE_CHECKING:
    from accord.federation.service import Federation

RULE = "draft-ietf-mimi-protocol-06 5.3"
NO_CAPABILITIES = RequiredCapabilities((), (), ())


def _message(raw: bytes, what: str) -> MLSMessage:
    try:
        return MLSMessage.from_bytes(raw)
    except DecodeError as exc:
        raise DecodeError(f"{what} is not an MLSMessage: {exc}") from None


def commit_bundle(req: m.CommitRequest) -> w.HandshakeBundle:
    """The HandshakeBundle of a device's commit: the commit, its Welcome, the new epoch's
    GroupInfo and ratchet tree. Without either (or with a GroupInfo that embeds the
    tree, or does not carry the request's posting key): a ValidationError."""
    if req.group_info is None:
        raise ValidationError("a commit to a room hubbed over MIMI needs the new epoch's"
                              " GroupInfo (CommitRequest.group_info)", RULE)
    info = _message(req.group_info, "the GroupInfo").message
    if not isinstance(info, GroupInfo):
        raise ValidationError("CommitRequest.group_info is not a GroupInfo", "RFC 9420 12.4.3")
    # Over MIMI the hub learns the epoch's posting key from the GroupInfo alone (T11).
    if posting_key_of(info) != req.posting_key:
        raise ValidationError("over MIMI the GroupInfo carries the commit's posting key",
                              POSTING_RULE)
    # 5.3: the GroupInfo omits the ratchet tree, which goes beside it
    if find_extension(info.extensions, ExtensionType.RATCHET_TREE) is not None:
        raise ValidationError("a GroupInfo sent over MIMI has no ratchet_tree extension", RULE)
    if req.ratchet_tree is None:
        raise ValidationError("a commit to a room hubbed over MIMI needs the new epoch's"
                              " ratchet tree (CommitRequest.ratchet_tree)", RULE)
    try:
        tree = decode(RatchetTree, req.ratchet_tree)
    except DecodeError as exc:
        raise ValidationError(f"the GroupInfo's ratchet tree does not decode: {exc}",
                              "RFC 9420 12.4.3.3") from None
    welcome = None if req.welcome is None else _message(req.welcome, "the Welcome").message
    if welcome is not None and not isinstance(welcome, Welcome):
        raise ValidationError("CommitRequest.welcome is not a Welcome", "RFC 9420 12.4.3.1")
    try:
        return w.HandshakeBundle(_message(req.commit, "the commit"), w.MaybeWelcome(welcome),
                                 w.GroupInfoOption(1, info), w.RatchetTreeOption(1, tree))
    except DecodeError as exc:  # not a commit
        raise ValidationError(str(exc), RULE) from None


def proposal_bundle(req: m.ProposalRequest) -> w.HandshakeBundle:
    try:
        return w.HandshakeBundle(_message(req.proposal, "the proposal"), more_proposals=())
    except DecodeError as exc:  # not a proposal
        raise ValidationError(str(exc), RULE) from None


def answer_id(raw: bytes) -> str:
    """The id a device is answered for a message it sent over MIMI, which the hub keeps
    under its own (MIMI names none): the message's hash, so a retry is answered alike;
    16 bytes as the hub's own ids (``hub.new_msg_id``). The one for commits, proposals
    and submitted messages (``mimi_post``)."""
    return b64e(hashlib.sha256(raw).digest()[:16])


async def update(fed: Federation, group: GroupRecord, bundle: w.HandshakeBundle, now: int,
                 first_contact: Sequence[m.SealedFirstContact] = ()) -> w.UpdateRoomResponse:
    """Hand the room's hub one bundle (5.3); anything but success is a typed error.
    ``first_contact``: a commit's sealed requests, carried to a hub that lists
    accord-firstContact (:mod:`accord.federation.mimi_first_contact`), else not sent."""
    room = w.mimi_room_uri(group.hub, group.group_id)
    body: WireStruct = w.UpdateRequest(bundle)
    at = None if not first_contact else await mimi_first_contact.carrier_url(
        fed, group.hub, group.group_id, group.hub, now)
    if at is not None:
        body = mimi_accord.carry(mimi_accord.UPDATE, body.to_bytes(), list(first_contact))
    resp = await fed.client.post_mimi(group.hub, "update", room, body, w.UpdateRoomResponse,
                                      now, at)
    code = w.UpdateResponseCode
    if resp.response_code == code.SUCCESS:
        return resp
    reason = resp.error_description.decode(errors="replace")[:300]
    if resp.response_code == code.WRONG_EPOCH:
        raise EpochConflict(resp.current_epoch)
    raise ValidationError(f"provider {group.hub}: {reason or 'not allowed'}", RULE)


async def forward_commit(fed: Federation, group: GroupRecord, req: m.CommitRequest, now: int
                         ) -> m.CommitResponse:
    await update(fed, group, commit_bundle(req), now, req.first_contact)
    return m.CommitResponse(msg_id=answer_id(req.commit), epoch=req.epoch + 1)


async def forward_proposal(fed: Federation, group: GroupRecord, req: m.ProposalRequest,
                           now: int) -> m.PostResponse:
    await update(fed, group, proposal_bundle(req), now)
    return m.PostResponse(msg_id=answer_id(req.proposal))


async def claim(fed: Federation, account: str, by: DeviceRecord, now: int,
                cipher_suite: int, group_id: bytes | None = None) -> m.ClaimResponse:
    """A remote user's KeyPackages over MIMI (5.2), as Accord's claim answers them.

    The requester's signature is made with a one-time key of the suite under a basic
    credential naming the requesting user: the provider holds no key of its user's
    devices, and the request is the provider's, authenticated by its own signature
    (RFC 9421). A claim for a group hubbed elsewhere (the device a member of it) goes
    to its hub, naming the room; any other names none. A user who is unknown or was
    deleted is ``NotFound`` (no probing, T14); one who gave no consent is asked for it
    (``NoConsent``: ``follower.claim`` asks, 5.7) and the device answered
    ``ConsentRequested``."""
    domain = domain_of(account)
    send_to, room, consent_room = domain, b"", ""
    if group_id is not None:
        group = await fed.provider.store.get_group(group_id)
        if by.device_id not in group.members:
            raise NotFound("no such group")
        consent_room = w.mimi_room_uri(group.hub, group_id)
        if group.hub != fed.domain:
            send_to, room = group.hub, consent_room.encode()
    target = w.mimi_user_uri(account)
    requester = w.mimi_user_uri(by.account)
    suite = get_suite(cipher_suite)
    priv, pub = suite.generate_signature_key_pair()
    unsigned = w.KeyMaterialRequest(w.MLS10, w.IdentifierUri.of(requester),
                                    w.IdentifierUri.of(target), w.IdentifierUri(room),
                                    (cipher_suite,), NO_CAPABILITIES, pub,
                                    Credential.basic(requester.encode()), b"")
    req = dataclasses.replace(unsigned, key_material_request_signature=suite.sign_with_label(
        priv, unsigned.SIGN_LABEL, unsigned.tbs()))
    resp = await fed.client.post_mimi(send_to, "keyMaterial", target, req,
                                      w.KeyMaterialResponse, now)
    if resp.user_uri.text() != target:
        raise NotFound("the provider answered for another user")
    code = w.KeyMaterialUserCode
    if resp.user_status in (code.NO_CONSENT, code.NO_CONSENT_FOR_THIS_ROOM):
        # the caller (follower.claim) asks the target's provider for consent (5.7)
        raise NoConsent(f"{account} gave no consent", consent_room)
    if resp.user_status in (code.USER_UNKNOWN, code.USER_DELETED):
        raise NotFound("no such account")
    if resp.user_status == code.INCOMPATIBLE_PROTOCOL:
        raise ValidationError("the provider speaks no MLS 1.0 for this user", "MIMI 5.2")
    claimed = [m.ClaimedKeyPackage(device, MLSMessage.wrap(kp).to_bytes(), False)
               for device, kp in handed_clients(resp, domain)]
    return m.ClaimResponse(account=account, key_packages=claimed)


def handed_clients(resp: w.KeyMaterialResponse, domain: str) -> list[tuple[str, KeyPackage]]:
    """The device id and KeyPackage of each client ``domain`` handed one for (5.2); a
    client URI of another provider is a ValidationError."""
    out = []
    for c in resp.clients:
        if c.client_status != w.KeyMaterialClientCode.SUCCESS or c.key_package is None:
            continue
        uri = c.client_uri.text()
        try:
            device_id = w.client_of_uri(uri, domain)
        except DecodeError:
            raise ValidationError("the provider answered with a client of another provider",
                                  "MIMI 5.2") from None
        out.append((device_id, c.key_package))
    return out
