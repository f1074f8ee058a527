"""Consent requests a provider sends for its users (draft-ietf-mimi-protocol-06 5.7, T14).

When the target's provider answers a user's claim (5.2) with ``noConsent`` or
``noConsentForThisRoom``, this provider asks the target's provider for that user's
consent on the requester's behalf (:func:`ask`: a ``requestConsent`` whose
ConsentScope is the requester, the target and the claim's room, if any) and the
device gets a :class:`~accord.errors.ConsentRequested` (403), not "unknown user".

- At most one request per scope within :data:`REQUEST_WINDOW_MS` of its last change
  (sent, granted, revoked: a revoke is also a denial, 5.7); each new one also counts
  against the requester's limit of invitations (``sender``, as for a Welcome), so
  neither a retrying device nor a user asking many targets floods anyone.
- The target's provider's ``updateConsent`` (:func:`answered`) changes only a
  request this provider sent for that scope (or, without a room, every room of the
  pair); a grant or revoke nobody asked for changes nothing here. The requester's
  devices read the state (``GET /v1/consent/sent``) and retry the claim once granted.
- The requester cancels a pending request (:func:`cancel`: a ``requestConsent`` with
  ``cancel``, 5.7 "the same ConsentScope as a previous request").
- Our own users' answers: with ``--require-consent`` our users' key material goes to
  a peer's user only once they consented; accepting that user's consent request (the
  message-request accept) owes its provider an ``updateConsent`` grant for every room
  (:func:`grant`: Accord's consent is per user), and a later block of that user (or
  its domain) a ``revoke`` (:func:`revoke`).

Every one of these messages goes through the outbound queue (:func:`queued`, a
``FedConsent`` row written in the transaction that records what it announces;
``accord.federation.outbox`` sends it with :func:`send`), never inline: once the
device was answered, the peer is owed the message, across a peer's outage and our
own crash. Each is idempotent at the peer (a resent request files nothing twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from accord.errors import ConsentRequested, NotFound
from accord.storage.consent_sent_sql import Queued
from accord.storage.consent_sql import CONSENT_REQUEST
from accord.wire import dumps
from accord.wire import federation as fw
from accord.wire import mimi as w
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.federation.service import Federation

RULE = "draft-ietf-mimi-protocol-06 5.7"
REQUEST_WINDOW_MS = 24 * 3600 * 1000
Op = w.ConsentOperation


def entry(op: int, requester: str, target: str, room: str) -> w.ConsentEntry:
    """The ConsentEntry of one scope (accounts ``user@domain``; ``room`` "" for none)."""
    return w.ConsentEntry(op, w.IdentifierUri.of(w.mimi_user_uri(requester)),
                          w.IdentifierUri.of(w.mimi_user_uri(target)),
                          w.IdentifierUri.of(room) if room else None,
                          () if op == Op.GRANT else None)


def queued(op: int, requester: str, target: str, room: str, now: int) -> Queued:
    """One consent message as a row of the outbound queue, for the provider it goes to:
    the target's for a request or cancel, the requester's for a grant or revoke."""
    peer = domain_of(target if op in (Op.REQUEST, Op.CANCEL) else requester)
    return peer, dumps(fw.FedConsent(entry(op, requester, target, room).to_bytes(), now))


async def send(fed: Federation, peer: str, item: fw.FedConsent, now: int) -> None:
    """The outbound queue sends one consent message (5.7: 201 with no body); raises as
    the peer answered (a refusal drops the item, an outage keeps it)."""
    e = w.ConsentEntry.from_bytes(item.consent)
    if e.consent_operation in (Op.REQUEST, Op.CANCEL):
        key, user = "requestConsent", e.target_uri.text()
    else:
        key, user = "updateConsent", e.requester_uri.text()
    await fed.client.post_mimi_created(peer, key, user, item.consent, now)


async def ask(fed: Federation, requester: str, target: str, room: str, now: int
              ) -> ConsentRequested:
    """``target``'s provider answered ``requester``'s claim with noConsent: ask it for
    consent unless this scope was asked (or answered) within the window; the error the
    device is answered."""
    sent = await fed.provider.store.consent_sent.get(requester, target, room)
    if sent is not None and now - sent.changed_at < REQUEST_WINDOW_MS:
        if sent.state == "revoked":
            return ConsentRequested(f"{target} did not consent; not asked again before"
                                    f" {sent.changed_at + REQUEST_WINDOW_MS} ({RULE})")
        return ConsentRequested(f"consent was requested from {target} ({RULE})")
    fed.limiter.check("sender", requester, now)  # as an invitation (consent.screen)
    await fed.provider.store.consent_sent.sent(
        requester, target, room, now, queued(Op.REQUEST, requester, target, room, now))
    fed.wake_outbox()
    return ConsentRequested(f"consent was requested from {target} ({RULE})")


async def answered(fed: Federation, requester: str, target: str, room: str | None,
                   granted: bool, now: int) -> list[str]:
    """The target's provider's grant or revoke for our ``requester``: recorded for the
    requests this provider sent for that scope only; the rooms it answered."""
    return await fed.provider.store.consent_sent.answered(
        requester, target, room, "granted" if granted else "revoked", now)


async def cancel(fed: Federation, requester: str, target: str, room: str, now: int) -> None:
    """Withdraw a pending request ``requester`` sent (NotFound for none)."""
    if not await fed.provider.store.consent_sent.cancel(
            requester, target, room, queued(Op.CANCEL, requester, target, room, now), now):
        raise NotFound("no pending consent request for this scope")
    fed.wake_outbox()


def grant(domain: str, account: str, now: int) -> Callable[[str, str], Queued | None]:
    """What our ``account`` owes the sender of a message request it accepts: a grant
    (every room) when the request was a consent request from another provider's user
    (``store.fed_accept_request`` queues it with the accept)."""
    def owed(sender: str, msg_id: str) -> Queued | None:
        if msg_id != CONSENT_REQUEST or domain_of(sender) == domain:
            return None
        return queued(Op.GRANT, sender, account, "", now)
    return owed


def revoke(account: str, now: int) -> Callable[[str], Queued]:
    """What our ``account`` owes a peer's user it granted consent and now blocks
    (``store.fed_set_block`` queues it with the block, for each grant it ends)."""
    return lambda requester: queued(Op.REVOKE, requester, account, "", now)
