"""Abuse reports (T13) and the provider's actions: suspend or limit an account, refuse a peer.

A member reports a message to its own provider (``POST /v1/reports``). The
group's hub verifies it (:func:`accord.federation.franking.check_report`, MIMI 5.9): if
this provider is the hub it checks and files the report; otherwise it
forwards the report to the hub over the signed peer API *without* the
reporter's name (``FedReport``, :mod:`accord.federation.report_relay`) and
files its own record once the hub says the report verifies. A report that does not verify is answered
``verified: false`` and filed nowhere. To a hub that gets MIMI from this provider
(``Federation.mimi_to``: ``--mimi-transport``, or a plain MIMI peer) the report goes
as the draft's AbuseReport to the hub's ``reportAbuse`` (5.9), still without the
reporter's name; the hub's 201 only acknowledges it, so the device is answered
``outcome: acknowledged`` (not verified) and this provider's record is filed with
status ``acknowledged``. Either way the reporter's reason code and note
(``ReportRequest.reason_code``, ``note``, within the limits of
:mod:`accord.wire.privacy`) travel with the report and are filed with it.

The alleged sender's own provider is the only one that can act on the
account, so when the hub keeps the claim and the account is another
provider's, the hub tells that provider too (``FedSenderReport``, in the
background, best effort), without the reporter or the reporter's provider.
That provider files the report only if the hub is the group's hub as it
knows the group, the account is its own and in the group, and it was itself
handed an item with that Frank (:func:`accept_sender_report`).

What a report reveals, and to whom, is in docs/PRIVACY.md.

Actions are taken by the provider's operator (``accord admin``): a
suspended account cannot use any authenticated endpoint; a limited one gets
a tight request rate; a refused peer provider gets 401 on every peer
endpoint. The gates below are called by the routing layers.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from accord.content import decode_body
from accord.errors import (
    AuthError,
    CryptoError,
    DecodeError,
    NotFound,
    ValidationError,
)
from accord.federation import franking, report_relay
from accord.server.state import Provider
from accord.storage import DeviceRecord, GroupRecord
from accord.wire import privacy as w
from accord.wire.accounts import domain_of
from accord.wire.mimi import mimi_user_uri

if TYPE_CHECKING:
    from accord.federation.service import Federation

log = logging.getLogger("accord.server.reports")


async def _verify_and_file(p: Provider, group: GroupRecord, reporter: str,
                           req: w.ReportRequest | w.FedReport, now: int,
                           origin: str | None = None) -> w.ReportResult:
    fed: Federation[Provider] = p.federation  # a running provider always federates
    try:
        reported = franking.check_report(fed, group.group_id, req.created_at, req.content,
                                         req.frank, await franking.hub_key(p))
    except (CryptoError, DecodeError):
        log.info("report refused: it does not verify")
        return w.ReportResult(verified=False, hub=p.config.domain, outcome=w.REFUSED)
    alleged = req.alleged_sender
    if alleged is not None and reported.sender_uri not in (None, mimi_user_uri(alleged)):
        alleged = None  # the franked content names another sender (its extension 1)
    if alleged is not None and not await _could_have_sent(p, group, alleged):
        alleged = None  # a claim the roster rules out is not kept
    report_id = await p.store.reports.add(group.group_id, reporter, alleged, req.content,
                                          req.created_at, now, req.reason_code,
                                          w.check_note(req.note))  # every route's limit
    log.info("report %d filed", report_id)
    if alleged is not None:
        _tell_sender_provider(p, alleged, origin, w.FedSenderReport(
            group_id=group.group_id, created_at=req.created_at, content=req.content,
            frank=req.frank, account=alleged), now)
    return w.ReportResult(verified=True, hub=p.config.domain, report_id=report_id,
                          outcome=w.VERIFIED)


def _tell_sender_provider(p: Provider, account: str, origin: str | None,
                          note: w.FedSenderReport, now: int) -> None:
    """Forward a verified report to the alleged sender's provider (not to us, nor back
    to the provider that forwarded it here: that one filed its own record)."""
    domain = domain_of(account)
    if domain not in (p.config.domain, origin):
        report_relay.tell_sender_provider(p.federation, domain, note, now)


async def _could_have_sent(p: Provider, group: GroupRecord, account: str) -> bool:
    """The alleged sender has a device in the group (local account) or its provider
    hosts a member (remote account). Posts are anonymous: this is all the hub can check."""
    domain = domain_of(account)
    if domain == p.config.domain:
        try:
            devices = await p.store.list_devices(account)
        except NotFound:
            return False
        return any(group.has_local(d.device_id) for d in devices)
    return group.hosted_by(domain)


async def report_request(p: Provider, by: DeviceRecord, group_id: bytes, now: int
                         ) -> w.ReportResult:
    """Report a message request without reading it (T13, T14): the person saw only who
    it is from. What this provider recorded when the invitation came (consent) is
    filed as it is: the group, the reporter, the sender and the time; no content is
    revealed, so nothing goes to the sender's provider (it could verify nothing)."""
    found = next(((frm, at) for g, frm, _mid, at in await p.store.fed_requests(by.account)
                  if g == group_id), None)
    if found is None:
        raise NotFound("no such message request")
    sender, at = found
    report_id = await p.store.reports.add(group_id, by.account, sender, b"", at, now)
    log.info("message request report %d filed", report_id)
    return w.ReportResult(verified=True, hub=p.config.domain, report_id=report_id)


async def report(p: Provider, by: DeviceRecord, req: w.ReportRequest, now: int
                 ) -> w.ReportResult:
    group = await p.store.get_group(req.group_id)
    if not group.has_local(by.device_id):
        raise NotFound("no such group")  # T08: a non-member learns nothing
    if group.hub == p.config.domain:
        return await _verify_and_file(p, group, by.account, req, now)
    fed: Federation[Provider] = p.federation  # a running provider always federates
    forwarded = w.FedReport(group_id=req.group_id, created_at=req.created_at,
                            content=req.content, frank=req.frank,
                            alleged_sender=req.alleged_sender, reason_code=req.reason_code,
                            note=w.check_note(req.note))
    if await fed.mimi_to(group.hub, now):  # 5.9: the hub only acknowledges
        await report_relay.forward_mimi(fed, group.hub, forwarded, now)
        status, result = w.ACKNOWLEDGED, w.ReportResult(
            verified=False, hub=group.hub, outcome=w.ACKNOWLEDGED)
    else:
        status, result = "forwarded", await report_relay.forward(fed, group.hub, forwarded,
                                                                 now)
        if not result.verified:
            return result
    report_id = await p.store.reports.add(group.group_id, by.account, req.alleged_sender,
                                          req.content, req.created_at, now, req.reason_code,
                                          req.note)
    await p.store.reports.close(report_id, status)
    return dataclasses.replace(result, report_id=report_id,
                               outcome=result.outcome or w.VERIFIED)


async def accept_forwarded(fed: Federation[Provider], peer: str, req: w.FedReport, now: int
                           ) -> w.ReportResult:
    """The hub checks a report a follower forwards (the follower hosts a member)."""
    p = fed.provider
    group = await p.store.get_group(req.group_id)
    if group.hub != p.config.domain:
        raise NotFound("this provider is not the hub of this group")
    if not group.hosted_by(peer):
        raise AuthError("the requesting provider hosts no member of this group")
    return await _verify_and_file(p, group, f"via {peer}", req, now, origin=peer)


async def accept_sender_report(fed: Federation[Provider], peer: str,
                               req: w.FedSenderReport, now: int) -> w.ReportResult:
    """A hub reports a message of one of our accounts; file it for our operator.

    We cannot recompute the server frank (the hub's key is the hub's), so the
    evidence is: the request is signed by the group's hub as we know the group, and
    that hub handed us an item with this very Frank (every post of the group
    reaches us: the account has a device in it). The content must decode.
    """
    p = fed.provider
    if domain_of(req.account) != p.config.domain:
        raise ValidationError("the reported account is not an account of this provider", "T13")
    group = await p.store.get_group(req.group_id)
    if group.hub != peer:
        raise AuthError("only the group's hub may report a message of the group")
    devices = await p.store.list_devices(req.account)
    if not any(group.has_local(d.device_id) for d in devices):
        raise ValidationError("the reported account has no device in this group", "T13")
    if not await p.store.reports.tag_filed(req.frank):
        raise ValidationError("the hub never delivered a message with this frank here",
                              "T13")
    decode_body(req.content)
    report_id = await p.store.reports.add(group.group_id, f"via {peer}", req.account,
                                          req.content, req.created_at, now)
    log.info("report %d filed (from the group's hub)", report_id)
    return w.ReportResult(verified=True, hub=peer, report_id=report_id)


# gates called by the routing layers ------------------------------------------------------


async def gate_account(p: Provider, device: DeviceRecord, now: int) -> None:
    """Refuse a suspended account; slow a limited one."""
    action = await p.store.admin.account_action(device.account)
    if action == "suspended":
        raise AuthError("this account is suspended by its provider")
    if action == "limited":
        p.report_limiter.check("limited", device.account, now)


async def gate_peer(p: Provider, peer: str) -> None:
    if peer in await p.store.admin.refused_peers():
        raise AuthError("requests from this provider are refused")
