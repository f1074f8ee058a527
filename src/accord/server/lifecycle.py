"""The node's lifecycle: started, draining, and the WebSockets it holds.

:class:`Lifecycle` holds the open WebSockets, so that a draining node can
close each with 1001 (going away) and its clients reconnect elsewhere; the
readiness check (:mod:`accord.server.health`) reads whether the node has
started and whether it drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket

log = logging.getLogger("accord.server.lifecycle")
GOING_AWAY = 1001  # RFC 6455 7.4.1: the endpoint is going away (a server going down)


class Lifecycle:
    """Whether this node takes traffic, and the WebSockets it would close on leaving."""

    def __init__(self) -> None:
        self.started = False
        self.draining = False
        self.sockets: set[WebSocket] = set()
        self.pending: dict[str, int] = {}  # client address -> sockets not yet authenticated
        self.slow_consumers = 0  # WebSockets dropped for not reading (server.ws)

    async def going_away(self, timeout_s: float) -> int:
        """Stop taking traffic and close every WebSocket with 1001; returns how many."""
        self.draining = True
        sockets = list(self.sockets)

        async def close(ws: WebSocket) -> None:
            # A socket that closes by itself meanwhile raises here: it is gone either way.
            with contextlib.suppress(RuntimeError, OSError):
                await ws.close(code=GOING_AWAY)

        if sockets:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(close(ws) for ws in sockets)), timeout_s)
        log.info("draining: closed %d WebSockets with 1001", len(sockets))
        return len(sockets)
