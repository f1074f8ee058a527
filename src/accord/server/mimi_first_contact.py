"""``POST /mimi/v1/accord-firstContact/{roomId}``: the draft's update (5.3) or notify
(5.5) with a commit's sealed first-contact requests beside it (issue 18, T14;
docs/PROTOCOL.md "accord-firstContact").

The body is a :class:`~accord.wire.mimi_accord.FirstContactCarrier`: the draft's
request body, unchanged, and the requests. It is authenticated, checked and
handled as the wrapped endpoint is (:func:`accord.server.mimi_hub.update_room`,
:func:`accord.server.mimi_follower.notify`), which file the requests as Accord's own
routes do; the answer is that endpoint's (an ``UpdateRoomResponse``, or 201).
A plain MIMI provider (``--mimi-plain``) lists and serves no extension (404).
"""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import Response

from accord.errors import AccordError, AuthError, NotFound
from accord.federation.peer_client import mimi_source
from accord.server import mimi_follower, mimi_hub
from accord.server.errors import error_response
from accord.server.federation_routes import authenticated
from accord.wire import mimi as w
from accord.wire import mimi_accord as x

log = logging.getLogger("accord.mimi.http")
PATH = f"{w.PREFIX}/{x.FIRST_CONTACT}/{{target:path}}"
TEMPLATE = f"{w.PREFIX}/{x.FIRST_CONTACT}/{{roomId}}"  # its directory entry


async def carried(request: Request) -> Response:
    started = time.perf_counter()
    try:
        fed, peer, body, now = await authenticated(request)
        if fed.plain:
            raise NotFound("this provider offers no Accord extension")
        source = request.headers.get("from")
        if source is not None and source.lower() != mimi_source(peer):
            raise AuthError("the From header names another provider than the request's"
                            " signer", "MIMI 4.1")
        carrier = x.FirstContactCarrier.from_bytes(body)
        sealed = x.carried(carrier)
        target = request.path_params["target"]
        if carrier.endpoint == x.UPDATE:
            answer = await mimi_hub.update_room(
                fed, peer, w.UpdateRequest.from_bytes(carrier.mimi_body), target, now, sealed)
            response = Response(answer.to_bytes(), media_type=w.MEDIA_TYPE)
        else:
            links = {h: request.headers[h] for h in (x.CHAIN_HEADER,) if h in request.headers}
            await mimi_follower.notify(fed, peer, w.FanoutBatch.from_bytes(carrier.mimi_body),
                                       target, now, links, sealed)
            response = Response(status_code=201)
    except AccordError as exc:
        response = error_response(exc)
    log.info("POST %s -> %d (%.1f ms)", PATH, response.status_code,
             (time.perf_counter() - started) * 1000)
    return response
