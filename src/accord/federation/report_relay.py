"""Abuse reports between providers (T13): the two peer requests.

A follower forwards a member's report to the group's hub (``FedReport``,
without the reporter's name), and the hub tells the alleged sender's provider
(``FedSenderReport``, in the background, best effort). Whether a report
verifies, who files it and what is filed is the server's
(:mod:`accord.server.reports`); this module only carries it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from accord.errors import AccordError
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
