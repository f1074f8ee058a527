"""The outbound queue: what this provider owes each peer, delivered in order, never lost.

Rows are written by the hub in the same transaction as its local fan-out
(``accord.storage.federation_sql``). :func:`drain_once` takes, for every
peer whose backoff has expired, the oldest items (up to a batch), sends
them in one signed ``deliver`` request (to a peer that gets MIMI,
``Federation.mimi_to``: one ``notify`` per room, :mod:`accord.federation.mimi_fanout`) and deletes them once the
peer answered 2xx (MIMI: 201). A peer that cannot be reached, fails (5xx) or throttles us
(429) is tried again after an exponential backoff (:mod:`outbox_policy`).
A batch the peer refuses (4xx) is retried item by item, and only the items
refused alone are dropped, so one bad item cannot block a peer forever.
A MIMI consent message (``FedConsent``, :mod:`consent_out`) rides the same queue
and goes to the peer's ``requestConsent`` or ``updateConsent`` alone (every Accord
provider serves them, whatever the transport of its room traffic).
Time comes in as ``now``; :func:`run` is the server's background task with
the real clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from accord.errors import AccordError, PeerUnavailable, RateLimited
from accord.federation import consent_out, mimi_fanout
from accord.federation.peer_client import TIMEOUT_S
from accord.storage.records import OutboxBatch
from accord.wire import decode, loads
from accord.wire import federation as fw

if TYPE_CHECKING:
    from accord.federation.service import Federation

log = logging.getLogger("accord.federation.outbox")
DELIVER = "/federation/v1/deliver"
MAX_PEERS_PER_ROUND = 64
IDLE_WAIT_S = 1.0
PURGE_EVERY_MS = 60_000
# A peer reads at most its JSON limit plus one message per request (routes.py);
# one item alone is always under it.
MAX_BATCH_BYTES = 512 * 1024
# How long a node holds a peer while it sends (longer than one request may take);
# a node that crashed mid-send delays that peer by at most this much.
LEASE_MS = int(TIMEOUT_S * 1000) + 5_000


Queued = fw.FedItem | fw.FedConsent


def _queued(raw: bytes) -> Queued:
    doc = loads(raw)
    return decode(fw.FedConsent if isinstance(doc, dict) and "consent" in doc else fw.FedItem,
                  doc)


async def _send(fed: Federation, peer: str, queued: list[Queued], now: int) -> None:
    items = [i for i in queued if isinstance(i, fw.FedItem)]
    for c in queued:
        if isinstance(c, fw.FedConsent):  # alone, to its MIMI endpoint (5.7)
            await consent_out.send(fed, peer, c, now)
    if not items:
        return
    if await fed.mimi_to(peer, now):  # FanoutMessages to the follower's notify (MIMI 5.5)
        await mimi_fanout.notify(fed, peer, items, now)
        return
    # a Welcome's ratchet tree is for MIMI fan-out only (an Accord member reads the tree
    # its Welcome's GroupInfo carries)
    items = [dataclasses.replace(i, ratchet_tree=None) for i in items]
    await fed.client.post(peer, DELIVER, fw.FedDeliver(items=items), fw.FedDeliverResponse, now)


def _within_body_limit(batch: OutboxBatch) -> OutboxBatch:
    """The oldest items whose request stays under the peer's body limit (at least one)."""
    size, kept = 0, []
    for row in batch.items:
        size += len(row[1]) + 1
        if kept and size > MAX_BATCH_BYTES:
            break
        kept.append(row)
    return OutboxBatch(batch.peer, batch.failures, kept)


async def _drain_peer(fed: Federation, batch: OutboxBatch, now: int) -> int:
    store = fed.provider.store
    batch = _within_body_limit(batch)
    ids = [i for i, _ in batch.items]
    items = [_queued(raw) for _, raw in batch.items]
    try:
        await _send(fed, batch.peer, items, now)
    except (PeerUnavailable, RateLimited):
        failures = batch.failures + 1
        await store.fed_outbox_failed(
            batch.peer, failures, fed.config.backoff.next_attempt(failures, now, random.random())
        )
        log.info("peer %s unavailable (%d failures in a row); backing off",
                 batch.peer, failures)
        return 0
    except AccordError:
        return await _one_by_one(fed, batch, items, now)
    await store.fed_outbox_sent(batch.peer, ids)
    return len(ids)


async def _one_by_one(fed: Federation, batch: OutboxBatch, items: list[Queued],
                      now: int) -> int:
    store = fed.provider.store
    sent = 0
    for (row_id, _), item in zip(batch.items, items, strict=True):
        try:
            await _send(fed, batch.peer, [item], now)
            sent += 1
        except (PeerUnavailable, RateLimited):
            failures = batch.failures + 1  # the rest waits for the next round
            await store.fed_outbox_failed(
                batch.peer, failures, fed.config.backoff.next_attempt(failures, now))
            return sent
        except AccordError as exc:
            log.warning("peer %s refused an item (%s %s); dropped", batch.peer, exc.code, str(exc))
        await store.fed_outbox_sent(batch.peer, [row_id])
    return sent


async def drain_once(fed: Federation, now: int) -> int:
    """One round over every due peer, in parallel; returns how many items were delivered."""
    batches = await fed.provider.store.fed_outbox_due(now, fw.MAX_BATCH, MAX_PEERS_PER_ROUND,
                                                      LEASE_MS)
    if not batches:
        return 0
    done = await asyncio.gather(*(_drain_peer(fed, b, now) for b in batches))
    return sum(done)


async def run(fed: Federation, clock: Callable[[], int]) -> None:
    """The server's background task: drain, then wait for news or a short timeout."""
    last_purge = 0
    while True:
        fed.outbox_news.clear()
        now = clock()
        delivered = 0
        try:
            delivered = await drain_once(fed, now)
            if now - last_purge >= PURGE_EVERY_MS:
                last_purge = now
                await fed.provider.store.fed_purge(now, now - fed.provider.config.retention_ms)
        except (AccordError, OSError) as exc:
            log.warning("outbound queue round failed: %s", type(exc).__name__)
        if delivered == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fed.outbox_news.wait(), IDLE_WAIT_S)
