"""Readiness (``/readyz``) beside liveness (``/healthz``), and the node's lifecycle.

``/healthz`` says the process answers; a load balancer that restarts on it
must not restart a node only because PostgreSQL is down. ``/readyz`` says
this node should be sent traffic: its start-up (the lifespan) has finished,
it is not draining, the database answers within ``CHECK_TIMEOUT_S`` and, when
a bus is configured, the bus is connected. Otherwise it answers 503 with one
fixed reason word, never an exception's text (a database URL or a driver's
message could hold a password or a host name).

Whether the node has started or is draining is the provider's
:class:`~accord.server.lifecycle.Lifecycle`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from accord.errors import StoreUnavailable
from accord.server.errors import error_response

if TYPE_CHECKING:
    from accord.server.state import Provider

log = logging.getLogger("accord.server.health")
CHECK_TIMEOUT_S = 2.0


async def not_ready(provider: Provider | None,
                    on_database_error: Callable[[BaseException], None]) -> str | None:
    """The reason this node should get no traffic, or None when it is ready."""
    if provider is None or not provider.lifecycle.started:
        return "starting"
    if provider.lifecycle.draining:
        return "draining"
    try:
        await asyncio.wait_for(provider.store.ping(), CHECK_TIMEOUT_S)
    except Exception as exc:  # any driver failure or timeout means: not reachable
        on_database_error(exc)
        return "database"
    if not provider.bus.connected:
        return "bus"
    return None


async def readyz(request: Request) -> Response:
    state: Any = request.app.state
    metrics = getattr(state, "metrics", None)
    reason = await not_ready(getattr(state, "provider", None),
                             metrics.database_error if metrics else lambda exc: None)
    if reason is None:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """A request that met an unreachable database: 503 and a retry hint, not a 500.

    Nothing was half-done: the statement's transaction did not commit, and a
    retried post is recognized by its nonce (delivery.post_application).
    """
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.database_error(exc)
    cause = exc.__cause__ or exc  # the driver's error under the engine's StoreUnavailable
    log.warning("database unavailable (%s) during a request", type(cause).__name__)
    if not isinstance(exc, StoreUnavailable):  # a driver's error the engine did not see
        exc = StoreUnavailable("storage unavailable; try again shortly")
    return error_response(exc)


def health_routes() -> list[Route]:
    return [Route("/readyz", readyz, methods=["GET"])]
