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
- Our own users' answers (:func:`grant`): with ``--require-consent`` our users'
  key material goes to a peer's user only once they consented; accepting that
  user's consent request (the message-request accept) sends it an ``updateConsent``
  grant for every room (Accord's consent is per user).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from accord.errors import AccordError, ConsentRequested, NotFound
from accord.wire import mimi as w
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.federation.service import Federation

log = logging.getLogger("accord.federation.consent")
RULE = "draft-ietf-mimi-protocol-06 5.7"
REQUEST_WINDOW_MS = 24 * 3600 * 1000
Op = w.ConsentOperation


def entry(op: int, requester: str, target: str, room: str) -> w.ConsentEntry:
    """The ConsentEntry of one scope (accounts ``user@domain``; ``room`` "" for none)."""
    return w.ConsentEntry(op, w.IdentifierUri.of(w.mimi_user_uri(requester)),
                          w.IdentifierUri.of(w.mimi_user_uri(target)),
                          w.IdentifierUri.of(room) if room else None,
                          () if op == Op.GRANT else None)


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
    await fed.client.post_mimi_created(
        domain_of(target), "requestConsent", w.mimi_user_uri(target),
        entry(Op.REQUEST, requester, target, room).to_bytes(), now)
    await fed.provider.store.consent_sent.sent(requester, target, room, now)
    return ConsentRequested(f"consent was requested from {target} ({RULE})")


async def answered(fed: Federation, requester: str, target: str, room: str | None,
                   granted: bool, now: int) -> list[str]:
    """The target's provider's grant or revoke for our ``requester``: recorded for the
    requests this provider sent for that scope only; the rooms it answered."""
    return await fed.provider.store.consent_sent.answered(
        requester, target, room, "granted" if granted else "revoked", now)


async def cancel(fed: Federation, requester: str, target: str, room: str, now: int) -> None:
    """Withdraw a pending request ``requester`` sent (NotFound for none)."""
    sent = await fed.provider.store.consent_sent.get(requester, target, room)
    if sent is None or sent.state != "pending":
        raise NotFound("no pending consent request for this scope")
    await fed.client.post_mimi_created(
        domain_of(target), "requestConsent", w.mimi_user_uri(target),
        entry(Op.CANCEL, requester, target, room).to_bytes(), now)
    await fed.provider.store.consent_sent.cancel(requester, target, room)


async def grant(fed: Federation, account: str, requester: str, now: int) -> None:
    """Our ``account`` accepted a peer's user's consent request: tell its provider
    (every room). Best effort: the grant is a notice, the consent itself is the
    contact this provider now keeps, so a lost notice only delays a retry."""
    try:
        await fed.client.post_mimi_created(
            domain_of(requester), "updateConsent", w.mimi_user_uri(requester),
            entry(Op.GRANT, requester, account, "").to_bytes(), now)
    except AccordError as exc:
        log.warning("updateConsent grant to %s not sent: %s", domain_of(requester),
                    type(exc).__name__)
