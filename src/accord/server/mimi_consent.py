"""Consent between providers (draft-ietf-mimi-protocol-06 5.7), through Accord's one
consent logic (:mod:`accord.federation.consent`, T14).

- ``POST /mimi/v1/requestConsent/{targetUser}``: a user of the signing peer asks one
  of ours (``request``) or withdraws that (``cancel``). For a room, it is a message
  request of that room's group the target answers as any other (accept makes the
  requester a contact, a block drops it); a blocked requester and an unknown user
  get the same 201 (no probing). Without a room nothing is recorded (but see below):
  Accord's consent is per invitation, and the Welcome that follows is the message
  request.
- ``POST /mimi/v1/updateConsent/{requesterUser}``: the signing peer's user grants or
  revokes consent to one of ours. It changes no consent of our users: only our own
  user's answer makes a contact, so a peer cannot use a grant to get past our users'
  consent. It answers only a request this provider sent for that scope
  (``accord.federation.consent_out``: its state, which the requester's devices read
  to retry their claim); one nobody asked for is acknowledged and changes nothing.

With ``--require-consent`` a ``request`` without a room is recorded too, under the
requester's scope id (``consent.scope_id``): the claim it answers named no room.
"""

from __future__ import annotations

from accord.errors import NotFound, ValidationError
from accord.federation import consent, consent_out
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
    if req.room_id is not None:
        _, group_id = w.room_of_uri(req.room_id.text())
    elif fed.provider.config.require_consent:  # the claim it answers names no room
        group_id = consent.scope_id(requester)
    else:
        return
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
    requester = w.account_of_user_uri(target)
    ours(fed, requester)
    answering = requester_of(peer, w.account_of_user_uri(req.target_uri.text()))
    room = None
    if req.room_id is not None:
        w.room_of_uri(req.room_id.text())  # a room URI, or a DecodeError
        room = req.room_id.text()
    await consent_out.answered(fed, requester, answering, room, req.consent_operation == Op.GRANT,
                               now)
