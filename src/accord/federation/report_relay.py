"""Abuse reports between providers (T13): the peer requests.

A follower forwards a member's report to the group's hub (``FedReport``,
without the reporter's name), and the hub tells the alleged sender's provider
(``FedSenderReport``, in the background, best effort). To a hub that gets MIMI
from this provider (``Federation.mimi_to``) the report goes as the draft's
``AbuseReport`` to the hub's ``reportAbuse`` (draft-ietf-mimi-protocol-06 5.9,
:func:`forward_mimi`), whose answer only acknowledges it. Whether a report
verifies, who files it and what is filed is the server's
(:mod:`accord.server.reports`); this module only carries it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from accord.errors import AccordError, DecodeError, ValidationError
from accord.wire import mimi
from accord.wire import privacy as w

if TYPE_CHECKING:
    from accord.federation.service import Federation

log = logging.getLogger("accord.federation.reports")
FED_REPORTS = "/federation/v1/reports"
FED_SENDER_REPORTS = "/federation/v1/reports/sender"
_SENDING: set[asyncio.Task[None]] = set()  # notes to senders' providers, in flight


async def forward(fed: Federation, hub: str, report: w.FedReport, now: int) -> w.ReportResult:
    """Ask the group's hub to verify (and file) a report; its answer."""
    return await fed.client.post(hub, FED_REPORTS, report, w.ReportResult, now)


def abuse_report(report: w.FedReport) -> mimi.AbuseReport:
    """The draft's AbuseReport (5.9) of one reported message: no ``reportingUser`` (it
    is optional, and Accord names no reporter to the hub, T13), the reporter's claim of
    the sender as ``allegedAbuserUri`` (empty for none), the reason code and note, and
    the message as one AbusiveMessage: the content as franked, the hub's Frank and its
    accepted time. A Frank that does not decode is a ValidationError."""
    try:
        frank = mimi.Frank.from_bytes(report.frank)
    except DecodeError as exc:
        raise ValidationError(f"the report's frank is not a MIMI Frank: {exc}",
                              "MIMI 5.4.1.2") from None
    alleged = b"" if report.alleged_sender is None else mimi.mimi_user_uri(
        report.alleged_sender).encode()
    message = mimi.AbusiveMessage(report.content, frank, report.created_at)
    return mimi.AbuseReport(mimi.IdentifierUri(b""), mimi.IdentifierUri(alleged),
                            report.reason_code, report.note.encode(),
                            (message,))


async def forward_mimi(fed: Federation, hub: str, report: w.FedReport, now: int) -> None:
    """Hand the room's hub a report over MIMI (5.9); returns once the hub accepted it
    (201), raises as it answered otherwise (an outage: ``PeerUnavailable``)."""
    room = mimi.mimi_room_uri(hub, report.group_id)
    await fed.client.post_mimi_created(hub, "reportAbuse", room,
                                       abuse_report(report).to_bytes(), now)


def tell_sender_provider(fed: Federation, domain: str, note: w.FedSenderReport,
                         now: int) -> None:
    """Send a verified report to the alleged sender's provider ``domain``, in the
    background: the reporter's answer does not wait on a third provider."""
    task = asyncio.create_task(_send(fed, domain, note, now))
    _SENDING.add(task)
    task.add_done_callback(_SENDING.discard)


async def _send(fed: Federation, domain: str, note: w.FedSenderReport, now: int) -> None:
    try:
        await fed.client.post(domain, FED_SENDER_REPORTS, note, w.ReportResult, now)
    except AccordError as exc:
        log.warning("the sender's provider was not told of a report: %s", type(exc).__name__)
