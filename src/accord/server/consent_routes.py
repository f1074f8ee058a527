"""The device-facing consent API (T14): blocks and message requests.

What a block or a contact means for an invitation is decided in one place,
:func:`accord.federation.consent.screen`; these routes only let a device read
and change its account's answers (session auth, the core router's
:class:`~accord.server.routes.Spec`).
"""

from __future__ import annotations

from starlette.routing import Route

from accord.errors import NotFound, ValidationError
from accord.federation import consent_out
from accord.server.routes import GROUP_ID, Call, Param, Spec, endpoint, group_id_of
from accord.wire import decode
from accord.wire import federation as fw

TARGET = Param("target", "path", {"type": "string", "maxLength": 318},
               "a blocked user@domain or domain")


def _target(c: Call) -> str:
    target = str(c.request.path_params["target"]).lower()
    return decode(fw.BlockRequest, {"target": target}).target


async def _block(c: Call) -> fw.BlockList:
    target = c.body.target.lower()
    if target in (c.me.account, c.provider.config.domain):
        raise ValidationError("you cannot block yourself or your own provider")
    # a peer's user we granted consent over MIMI hears of the revoke (5.7)
    await c.provider.store.fed_set_block(c.me.account, target, True, c.now,
                                         consent_out.revoke(c.me.account, c.now))
    c.provider.federation.wake_outbox()
    return fw.BlockList(targets=await c.provider.store.fed_blocks(c.me.account))


async def _unblock(c: Call) -> None:
    await c.provider.store.fed_set_block(c.me.account, _target(c), False, c.now)


async def _blocks(c: Call) -> fw.BlockList:
    return fw.BlockList(targets=await c.provider.store.fed_blocks(c.me.account))


async def _requests(c: Call) -> fw.MessageRequestList:
    rows = await c.provider.store.fed_requests(c.me.account)
    sealed = await c.provider.store.fed_first_contact(c.me.device_id)  # this device's (issue 18)
    return fw.MessageRequestList(
        requests=[fw.MessageRequest(g, frm, mid, at, sealed.get(g)) for g, frm, mid, at in rows]
    )


async def _accept(c: Call) -> None:
    # a peer's user asked over MIMI (5.7): its provider is owed the grant
    owed = consent_out.grant(c.provider.config.domain, c.me.account, c.now)
    try:
        await c.provider.store.fed_accept_request(c.me.account, group_id_of(c), c.now, owed)
    except NotFound as exc:
        raise NotFound("no such message request") from exc
    c.provider.federation.wake_outbox()


async def _sent(c: Call) -> fw.ConsentSentList:
    rows = await c.provider.store.consent_sent.list(c.me.account)
    return fw.ConsentSentList(requests=[fw.ConsentSent(r.target, r.room, r.state, r.changed_at)
                                        for r in rows])


async def _cancel(c: Call) -> None:
    await consent_out.cancel(c.provider.federation, c.me.account, c.body.target.lower(),
                             c.body.room, c.now)


SPECS: tuple[Spec, ...] = (
    Spec("GET", "/v1/blocks", "The caller's account's blocked users and domains", _blocks,
         auth=True, response=fw.BlockList),
    Spec("POST", "/v1/blocks", "Block a user (user@domain) or a whole domain", _block,
         auth=True, request=fw.BlockRequest, response=fw.BlockList),
    Spec("DELETE", "/v1/blocks/{target}", "Lift a block", _unblock, auth=True, status=204,
         params=(TARGET,)),
    Spec("GET", "/v1/requests", "Pending message requests from strangers",
         _requests, auth=True, response=fw.MessageRequestList),
    Spec("POST", "/v1/requests/{group_id}/accept", "Accept a message request (sender -> contact)",
         _accept, auth=True, status=204, params=(GROUP_ID,)),
    Spec("GET", "/v1/consent/sent", "MIMI consent requests sent for the caller's account",
         _sent, auth=True, response=fw.ConsentSentList),
    Spec("POST", "/v1/consent/sent/cancel", "Withdraw a pending MIMI consent request",
         _cancel, auth=True, request=fw.ConsentCancel, status=204),
)


def consent_routes() -> list[Route]:
    return [Route(s.path, endpoint(s), methods=[s.method]) for s in SPECS]
