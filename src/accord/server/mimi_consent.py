"""Consent between providers (draft-ietf-mimi-protocol-06 5.7), through Accord's one
consent logic (:mod:`accord.federation.consent`, T14).

- ``POST /mimi/v1/requestConsent/{targetUser}``: a user of the signing peer asks one
  of ours (``request``) or withdraws that (``cancel``). For a room, it is a message
  request of that room's group the target answers as any other (accept makes the
  requester a contact, a block drops it); a blocked requester and an unknown user
  get the same 201 (no probing). Without a room nothing is recorded: Accord's
  consent is per invitation, and the Welcome that follows is the message request.
- ``POST /mimi/v1/updateConsent/{requesterUser}``: the signing peer's user grants or
  revokes consent to one of ours. It is acknowledged and changes no consent here:
  what a peer says about its own user's consent is enforced where that user lives
  (its provider's claim path); only our own user's answer makes a contact, so a
  peer cannot use a grant to get past our users' consent.
"""

from __future__ import annotations

from accord.errors import NotFound, ValidationError
from accord.federation import consent
from accord.federation.service import Federation, ours, requester_of
from accord.server import accounts
from accord.wire import mimi as w

Op = w.ConsentOperation


async def request_consent(fed: Federation, peer: str, req: w.ConsentEntry, target: str,
                          now: int) -> None:
    if req.consent_operation not in (Op.REQUEST, Op.CANCEL):
        raise ValidationError("requestConsent carries a request or a cancel", "MIMI 5.7")
    if req.target_uri.text() != target:
        raise ValidationError("the body's targetUri is not the path's", "MIMI 5.7")
    account = w.account_of_user_uri(target)
    ours(fed, account)
    requester = requester_of(peer, w.account_of_user_uri(req.requester_uri.text()))
    if req.room_id is None:
        return
    _, group_id = w.room_of_uri(req.room_id.text())
    try:
        await accounts.list_devices(fed.provider, account)
    except NotFound:  # an unknown user: 201 all the same (5.7 allows it; no probing)
        return
    await consent.request_consent(fed, account, requester, group_id, now,
                                  cancel=req.consent_operation == Op.CANCEL)


async def update_consent(fed: Federation, peer: str, req: w.ConsentEntry, target: str,
                         now: int) -> None:
    if req.consent_operation not in (Op.GRANT, Op.REVOKE):
        raise ValidationError("updateConsent carries a grant or a revoke", "MIMI 5.7")
    if req.requester_uri.text() != target:
        raise ValidationError("the body's requesterUri is not the path's", "MIMI 5.7")
    ours(fed, w.account_of_user_uri(target))
    requester_of(peer, w.account_of_user_uri(req.target_uri.text()))
    if req.room_id is not None:
        w.room_of_uri(req.room_id.text())  # a room URI, or a DecodeError
