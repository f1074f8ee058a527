"""The Starlette application and how it starts (``accord server``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from accord.bus import make_bus
from accord.errors import AccordError
from accord.federation import gossip, outbox
from accord.federation.routes import federation_routes
from accord.federation.service import start as start_federation
from accord.private_files import secure_tree
from accord.server import delivery, franking
from accord.server.errors import accord_error_handler, unexpected_error_handler
from accord.server.openapi import openapi_document
from accord.server.privacy_routes import privacy_routes
from accord.server.rendezvous import rendezvous_routes
from accord.server.routes import http_routes
from accord.server.state import Provider, ServerConfig, wall_clock_ms
from accord.server.transparency import open_log
from accord.server.transparency_routes import transparency_routes
from accord.server.ws import push_endpoint
from accord.storage import open_store

log = logging.getLogger("accord.server")
PURGE_EVERY_S = 60.0


async def _purge_loop(p: Provider) -> None:
    while True:
        await asyncio.sleep(PURGE_EVERY_S)
        try:
            await delivery.purge(p, p.clock())
        except (AccordError, OSError) as exc:
            log.warning("retention purge failed: %s", type(exc).__name__)


def create_app(config: ServerConfig, clock: Callable[[], int] = wall_clock_ms, *,
               extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The provider's application: the composition root that wires server and federation.

    ``extra_routes`` is for benchmarks only (``bench/attributed_baseline.py`` adds
    the attributed-posting baseline, which would undo hidden senders, T11). No
    setting, option or environment variable adds a route: a provider started by
    ``accord server`` serves exactly the routes listed here.
    """
    doc = openapi_document()

    async def openapi(request: Request) -> Response:
        return JSONResponse(doc)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        secure_tree(Path(config.data_dir))  # 0700/0600, also what an older version left 0644
        store = await open_store(Path(config.data_dir), config.database)
        provider = Provider(config, store, make_bus(config.bus_url), clock=clock)
        await franking.hub_key(provider)  # made, or moved out of the database, at start
        await provider.bus.start(provider.notifier.on_news)
        app.state.provider = provider
        purger = asyncio.create_task(_purge_loop(provider))
        federation = start_federation(provider, Path(config.data_dir), dict(config.peers))
        provider.transparency = await open_log(config.domain, store.engine,
                                               Path(config.data_dir), clock(), federation.key)
        outbound = asyncio.create_task(outbox.run(federation, clock))
        witness = asyncio.create_task(gossip.run(federation, clock))  # issue 7: cosign peers
        log.info("provider %s ready (%s)", config.domain,
                 "postgresql" if config.database else "sqlite")
        try:
            yield
        finally:
            purger.cancel()
            outbound.cancel()
            witness.cancel()
            await federation.close()
            await provider.bus.close()
            await store.close()

    routes = [Route("/openapi.json", openapi, methods=["GET"]), *http_routes(),
              *privacy_routes(), *rendezvous_routes(),
              *federation_routes(), *transparency_routes(),
              WebSocketRoute("/v1/ws", push_endpoint), *extra_routes]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={AccordError: accord_error_handler, Exception: unexpected_error_handler},
    )


class _NoClientAddresses(logging.Filter):
    """uvicorn logs each WebSocket handshake with the client's address; we keep none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "WebSocket" not in str(record.msg)


def serve(
    config: ServerConfig,
    host: str,
    port: int,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> None:
    import uvicorn

    from accord.server.http_guard import guarded_http

    os.umask(0o077)  # whatever this process creates is its owner's only (keys, database, blobs)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("uvicorn.error").addFilter(_NoClientAddresses())
    uvicorn.run(
        create_app(config, extra_routes=extra_routes),
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        # uvicorn's access log prints client addresses and concrete paths
        # (group ids, blob capabilities); our own log names route templates only.
        access_log=False,
        server_header=False,  # T15: no software name or version in any response
        log_level="info",
        ws_max_size=1024 * 1024,
        http=guarded_http(config.header_timeout_s),  # a deadline on every request head
        lifespan="on",
    )
