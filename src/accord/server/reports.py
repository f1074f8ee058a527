"""Abuse reports (T13) and the provider's actions: suspend or limit an account, refuse a peer.

A member reports a message to its own provider (``POST /v1/reports``). The
group's hub verifies it (:func:`accord.privacy.franking.verify_report`): if
this provider is the hub it checks and files the report; otherwise it
forwards the report to the hub over the signed peer API *without* the
reporter's name (``FedReport``) and files its own record once the hub says
the report verifies. A report that does not verify is answered
``verified: false`` and filed nowhere.

What a report reveals, and to whom, is in docs/PRIVACY.md.

Actions are taken by the provider's operator (``accord admin``): a
suspended account cannot use any authenticated endpoint; a limited one gets
a tight request rate; a refused peer provider gets 401 on every peer
endpoint. The gates below are called by the routing layers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from accord.errors import AuthError, CryptoError, DecodeError, NotFound
from accord.privacy.franking import verify_report
from accord.server import franking
from accord.server.ratelimit import Limit, RateLimiter
from accord.server.state import Provider
from accord.storage import DeviceRecord, GroupRecord
from accord.storage import privacy_sql as sql
from accord.wire import privacy as w

if TYPE_CHECKING:
    from accord.federation.service import Federation

log = logging.getLogger("accord.server.reports")
FED_REPORTS = "/federation/v1/reports"
LIMITED = Limit(0.2, 5)  # a limited account: one request per 5 s, bursts of 5
_LIMITERS: dict[int, RateLimiter] = {}


def _engine(p: Provider) -> Any:
    return p.store.engine  # type: ignore[attr-defined]


async def _verify_and_file(p: Provider, group: GroupRecord, reporter: str,
                           req: w.ReportRequest | w.FedReport, now: int) -> w.ReportResult:
    try:
        verify_report(await franking.hub_key(p), group.group_id, req.created_at, req.content,
                      req.franking_tag)
    except (CryptoError, DecodeError):
        log.info("report refused: it does not verify")
        return w.ReportResult(verified=False, hub=p.config.domain)
    alleged = req.alleged_sender
    if alleged is not None and not await _could_have_sent(p, group, alleged):
        alleged = None  # a claim the roster rules out is not kept
    report_id = await sql.add_report(_engine(p), group.group_id, reporter, alleged,
                                     req.content, req.created_at, now)
    log.info("report %d filed", report_id)
    return w.ReportResult(verified=True, hub=p.config.domain, report_id=report_id)


async def _could_have_sent(p: Provider, group: GroupRecord, account: str) -> bool:
    """The alleged sender has a device in the group (local account) or its provider
    hosts a member (remote account). Posts are anonymous: this is all the hub can check."""
    domain = account.rsplit("@", 1)[-1]
    if domain == p.config.domain:
        try:
            devices = await p.store.list_devices(account)
        except NotFound:
            return False
        return any(d.device_id in group.members for d in devices)
    where = await p.store.fed_locate(list(group.members))
    return domain in where.values()


async def report(p: Provider, by: DeviceRecord, req: w.ReportRequest, now: int
                 ) -> w.ReportResult:
    group = await p.store.get_group(req.group_id)
    if by.device_id not in group.members:
        raise NotFound("no such group")  # T08: a non-member learns nothing
    if group.hub == p.config.domain:
        return await _verify_and_file(p, group, by.account, req, now)
    if p.federation is None:
        raise NotFound("the group's hub is not reachable from this provider")
    fed: Federation = p.federation
    forwarded = w.FedReport(group_id=req.group_id, created_at=req.created_at,
                            content=req.content, franking_tag=req.franking_tag,
                            alleged_sender=req.alleged_sender)
    result = await fed.client.post(group.hub, FED_REPORTS, forwarded, w.ReportResult, now)
    if not result.verified:
        return result
    report_id = await sql.add_report(_engine(p), group.group_id, by.account,
                                     req.alleged_sender, req.content, req.created_at, now)
    await sql.close_report(_engine(p), report_id, "forwarded")
    return w.ReportResult(verified=True, hub=result.hub, report_id=report_id)


async def accept_forwarded(fed: Federation, peer: str, req: w.FedReport, now: int
                           ) -> w.ReportResult:
    """The hub checks a report a follower forwards (the follower hosts a member)."""
    p = fed.provider
    group = await p.store.get_group(req.group_id)
    if group.hub != p.config.domain:
        raise NotFound("this provider is not the hub of this group")
    where = await p.store.fed_locate(group.members)
    if peer not in where.values():
        raise AuthError("the requesting provider hosts no member of this group")
    return await _verify_and_file(p, group, f"via {peer}", req, now)


# gates called by the routing layers ------------------------------------------------------


async def gate_account(p: Provider, device: DeviceRecord, now: int) -> None:
    """Refuse a suspended account; slow a limited one."""
    action = await sql.account_action(_engine(p), device.account)
    if action == "suspended":
        raise AuthError("this account is suspended by its provider")
    if action == "limited":
        limiter = _LIMITERS.setdefault(id(p), RateLimiter({"limited": LIMITED}))
        limiter.check("limited", device.account, now)


async def gate_peer(p: Provider, peer: str) -> None:
    if peer in await sql.refused_peers(_engine(p)):
        raise AuthError("requests from this provider are refused")
