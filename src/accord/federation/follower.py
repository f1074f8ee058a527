"""The follower: a provider hosting members of a conversation whose hub is elsewhere.

Its devices keep talking to their own provider only. It forwards their
commits and proposals to the hub (attributable: the device and its account
travel along; over MIMI, when ``Federation.mimi_to`` says so for the hub, as the draft's update,
:mod:`accord.federation.mimi_out`), and their application posts exactly as the member signed
them, adding nothing that names the sender (T11). What the hub fans out it
files into its devices' queues (:func:`deliver`), once per ``msg_id`` since
the hub may send an item again after a lost answer, after checking that the
sending peer is the group's hub and each recipient a member device hosted
here; a Welcome from a user of another provider goes through consent (T14).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import DecodeError, NoConsent, NotFound, ValidationError
from accord.federation import consent, consent_out, mimi_ext, mimi_out, mls_check
from accord.storage import DeviceRecord, GroupRecord, NewMessage
from accord.storage.records import Delivered, Filing, ViewWrite
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.federation.service import Federation

COMMITS = "/federation/v1/commits"
PROPOSALS = "/federation/v1/proposals"
POSTS = "/federation/v1/posts"
CLAIM = "/federation/v1/keypackages/claim"
DEVICES = "/federation/v1/devices"
BLOBS = "/federation/v1/blobs"


async def forward_commit(fed: Federation, by: DeviceRecord, group: GroupRecord,
                         req: m.CommitRequest, now: int) -> m.CommitResponse:
    if await fed.mimi_to(group.hub, now):  # issue 22: the hub reads the commit itself (5.3)
        return await mimi_out.forward_commit(fed, group, req, now)
    # Where an added device lives is the domain of its credential's account (issue 17);
    # the hub checks each against the commit's content in any case.
    accounts = mls_check.added_accounts(req.commit)
    ours = await fed.provider.store.fed_ours(req.added)
    added = []
    for d in req.added:
        account = accounts.get(d, ours.get(d))
        if account is None:
            raise NotFound("an added device does not exist (claim its KeyPackage first)")
        added.append(fw.FedDevice(d, domain_of(account)))
    fc = fw.FedCommit(group_id=group.group_id, sender=by.device_id, sender_account=by.account,
                      epoch=req.epoch, commit=req.commit, posting_key=req.posting_key,
                      added=added, removed=list(req.removed), welcome=req.welcome,
                      first_contact=list(req.first_contact), group_info=req.group_info)
    return await fed.client.post(group.hub, COMMITS, fc, m.CommitResponse, now)


async def forward_proposal(fed: Federation, by: DeviceRecord, group: GroupRecord,
                           req: m.ProposalRequest, now: int) -> m.PostResponse:
    if await fed.mimi_to(group.hub, now):
        return await mimi_out.forward_proposal(fed, group, req, now)
    fp = fw.FedProposal(group_id=group.group_id, sender=by.device_id,
                        sender_account=by.account, epoch=req.epoch, proposal=req.proposal)
    return await fed.client.post(group.hub, PROPOSALS, fp, m.PostResponse, now)


async def forward_post(fed: Federation, group: GroupRecord, req: m.ApplicationPost, now: int
                       ) -> m.PostResponse:
    post = fw.FedPost(group_id=group.group_id, epoch=req.epoch, nonce=req.nonce,
                      ciphertext=req.ciphertext, signature=req.signature)
    return await fed.client.post(group.hub, POSTS, post, m.PostResponse, now)


def key_package_owner(raw: bytes) -> tuple[str, str]:
    """``(account, device_id)`` named by a KeyPackage's basic credential (RFC 9420 5.3)."""
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs import KeyPackage
    from accord.mls.structs.messages import MLSMessage

    try:
        kp = mls_decode(MLSMessage, raw).message
    except DecodeError as exc:
        raise ValidationError("a claimed KeyPackage does not decode") from exc
    if not isinstance(kp, KeyPackage):
        raise ValidationError("a claimed KeyPackage is not a KeyPackage", "RFC 9420 6")
    device_id = mls_check.identity_device(kp.leaf_node.credential.identity)
    account = (kp.leaf_node.credential.identity or b"").decode().rsplit("/", 1)[0]
    return account, device_id


async def claim(fed: Federation, account: str, by: DeviceRecord, now: int,
                cipher_suite: int = 1, group_id: bytes | None = None) -> m.ClaimResponse:
    """Claim a remote account's KeyPackages through its provider, for a local device
    (over MIMI for a group hubbed elsewhere: through that group's hub, 5.2).

    A user who gave the requester no consent is asked for it, over either route
    (``consent_out.ask``), and the device answered ``ConsentRequested``.

    The answer is the owner's provider's word about its own account: each
    KeyPackage must name ``account/device_id`` for that account (issue 17), and
    only then is each ``(account, device_id)`` pair bound here (confirmed); a
    device id bound for another account stays that account's.
    """
    domain = domain_of(account)
    try:
        if await _claim_over_mimi(fed, domain, group_id, now):
            resp = await mimi_out.claim(fed, account, by, now, cipher_suite, group_id)
        else:
            req = fw.FedClaimRequest(account=account, requester=by.account,
                                     cipher_suite=cipher_suite)
            resp = await fed.client.post(domain, CLAIM, req, m.ClaimResponse, now)
    except NoConsent as refused:
        # the user gave ours no consent (MIMI noConsent, or Accord's route's no_consent):
        # ask for it (5.7, once per scope and window) and tell the device so
        raise await consent_out.ask(fed, by.account, account, refused.room, now) from None
    if resp.account != account:
        raise NotFound("the provider answered for another account")
    if any(key_package_owner(kp.key_package) != (account, kp.device_id)
           for kp in resp.key_packages):
        raise ValidationError("the provider answered with a KeyPackage of another device")
    await fed.provider.store.fed_bind_confirmed(
        [(account, kp.device_id) for kp in resp.key_packages], fed.domain)
    return resp


async def _claim_over_mimi(fed: Federation, domain: str, group_id: bytes | None, now: int
                           ) -> bool:
    """A claim goes over MIMI when the target's provider gets MIMI, or when it is for a
    group whose hub does (5.2: a claim for a room goes through its hub)."""
    if await fed.mimi_to(domain, now):
        return True
    if group_id is None:
        return False
    hub = (await fed.provider.store.get_group(group_id)).hub
    return hub != fed.domain and await fed.mimi_to(hub, now)


async def _accord_api(fed: Federation, domain: str, now: int) -> None:
    """What MIMI has no endpoint for goes over Accord's API, to Accord peers only."""
    if not await fed.accord_api_to(domain, now):
        raise NotFound(f"{domain} is a plain MIMI provider: it offers no Accord peer API")


async def list_devices(fed: Federation, account: str, now: int) -> m.DeviceList:
    """A remote account's public device list, relayed from its provider (T06: the
    client checks each key against that provider's transparency log anyway)."""
    domain = domain_of(account)
    if await fed.mimi_to(domain, now):  # its accord-deviceList extension, if listed
        return await mimi_ext.list_devices(fed, account, now)
    await _accord_api(fed, domain, now)
    resp = await fed.client.post(domain, DEVICES, fw.FedDevicesRequest(account=account),
                                 m.DeviceList, now)
    if resp.account != account:
        raise NotFound("the provider answered for another account")
    return resp


async def fetch_blob(fed: Federation, domain: str, blob_id: str, now: int) -> bytes:
    """Another provider's encrypted blob, for one of our devices (it only has ciphertext);
    over MIMI by the draft's direct download (5.10.1)."""
    if await fed.mimi_to(domain, now):
        return await mimi_ext.fetch_blob(fed, domain, blob_id, now)
    await _accord_api(fed, domain, now)
    return await fed.client.post_raw(domain, BLOBS, fw.FedBlobRequest(blob_id=blob_id), now,
                                     fed.provider.config.max_blob)


async def deliver(fed: Federation, hub: str, batch: fw.FedDeliver, now: int,
                  view: ViewWrite | None = None) -> fw.FedDeliverResponse:
    """File a hub's items in order; items filed before count as duplicates. ``view``:
    the follower's view of a MIMI room these items move (``accord.server.mimi_follower``),
    written in the same transaction."""
    p = fed.provider
    filings: list[Filing] = []
    for item in batch.items:
        recipients = list(item.recipients)
        requests, refuse = await consent.screen_item(fed, hub, item, now)
        roster = None if item.roster is None else [(d.device_id, d.domain) for d in item.roster]
        msg = NewMessage(item.msg_id, item.kind, item.group_id, item.epoch, item.sender,
                         item.body, item.created_at)
        link = None if item.chain_seq is None or item.chain is None else (
            item.chain_seq, item.chain)
        sealed = {s.device_id: s.sealed for s in item.first_contact}  # issue 18
        filings.append((Delivered(msg, recipients, roster, item.group_epoch,
                                  item.frank, item.created_at + p.config.retention_ms,
                                  link, sealed), requests, refuse))
    # One transaction for the whole batch, the hub's franks (T13) and chain
    # links (T07) included: one durable commit, all or nothing (issue 17).
    results = await p.store.fed_deliver_batch(hub, filings, fed.domain, view)
    notified = sorted({d for r in results if r is not None for d in r})
    if notified:
        await p.announce(notified)
    duplicates = sum(1 for r in results if r is None)
    accepted = len(results) - duplicates
    return fw.FedDeliverResponse(accepted=accepted, duplicates=duplicates)
