"""The Starlette application and how it starts (``accord server``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from accord.bus import make_bus
from accord.errors import AccordError, StoreUnavailable
from accord.federation import gossip, outbox, provider_key
from accord.federation.service import start as start_federation
from accord.private_files import secure_tree
from accord.server import delivery, json_logs
from accord.server.consent_routes import consent_routes
from accord.server.errors import accord_error_handler, unexpected_error_handler
from accord.server.federation_routes import federation_routes
from accord.server.health import health_routes, store_unavailable
from accord.server.metrics import Metrics, MetricsMiddleware, backlog_loop, route_templates
from accord.server.mimi_routes import mimi_routes
from accord.server.openapi import openapi_document
from accord.server.privacy_routes import privacy_routes
from accord.server.rendezvous import rendezvous_routes
from accord.server.routes import http_routes
from accord.server.shared_limits import SharedLimits
from accord.server.state import Provider, ServerConfig, wall_clock_ms
from accord.server.transparency import open_log
from accord.server.transparency_routes import transparency_routes
from accord.server.ws import push_endpoint
from accord.storage import open_store, unavailable_errors

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
    metrics = Metrics()

    async def openapi(request: Request) -> Response:
        return JSONResponse(doc)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        secure_tree(Path(config.data_dir))  # 0700/0600, also what an older version left 0644
        store = await open_store(Path(config.data_dir), config.database)
        provider = Provider(config, store, make_bus(config.bus_url), clock=clock)
        keys = await provider_key.load(Path(config.data_dir), store.secrets,
                                       provider_key.key_of(config.key_file))
        provider.franking_key = keys.franking
        shared = SharedLimits(provider.bus, {"provider": provider.limiter,
                                             "reports": provider.report_limiter}, clock)
        await provider.bus.start(provider.notifier.on_news, provider.notifier.wake_all,
                                 shared.receive)
        app.state.provider = provider
        metrics.watch(provider)
        purger = asyncio.create_task(_purge_loop(provider))
        federation = start_federation(provider, keys.signing, dict(config.peers))
        shared.limiters["federation"] = federation.limiter
        provider.transparency = await open_log(config.domain, store.engine, keys.signing,
                                               keys.index, clock())
        outbound = asyncio.create_task(outbox.run(federation, clock))
        witness = asyncio.create_task(gossip.run(federation, clock))  # issue 7: cosign peers
        backlog = asyncio.create_task(backlog_loop(provider, metrics))
        exchange = asyncio.create_task(shared.run())  # issue 23: one provider's limits
        exporter = metrics.serve(config.metrics_bind) if config.metrics_bind else None
        provider.lifecycle.started = True
        log.info("provider %s ready (%s)", config.domain,
                 "postgresql" if config.database else "sqlite")
        try:
            yield
        finally:
            provider.lifecycle.draining = True
            if exporter is not None:
                exporter.shutdown()
            for task in (purger, outbound, witness, backlog, exchange):
                task.cancel()
            await federation.close()
            await provider.news.close()
            await provider.bus.close()
            await store.close()

    routes = [Route("/openapi.json", openapi, methods=["GET"]), *http_routes(),
              *privacy_routes(), *consent_routes(), *rendezvous_routes(),
              # a plain MIMI provider (--mimi-plain) serves none of Accord's peer API
              *([] if config.mimi_plain else federation_routes()), *mimi_routes(),
              *transparency_routes(),
              WebSocketRoute("/v1/ws", push_endpoint), *health_routes(), *extra_routes]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics,
                               templates=route_templates(routes))],
        exception_handlers={AccordError: accord_error_handler, Exception: unexpected_error_handler,
                            StoreUnavailable: store_unavailable,
                            **dict.fromkeys(unavailable_errors(), store_unavailable)},
    )
    app.state.metrics = metrics
    return app


class _NoClientAddresses(logging.Filter):
    """uvicorn logs each WebSocket handshake with the client's address; we keep none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "WebSocket" not in str(record.msg)


def draining_server(settings: Any, app: Starlette) -> Any:
    """uvicorn's server, with a shutdown that lets clients move to another node.

    On SIGTERM (or SIGINT): stop accepting connections, close every WebSocket
    with 1001 (going away: the client reconnects, through the load balancer,
    to another node; its queue waits in the database, so nothing is lost),
    let in-flight requests finish within ``config.drain_timeout_s``, run the
    lifespan's shutdown, and exit with status 0. uvicorn alone would close
    WebSockets with 1012 and then re-raise SIGTERM, so the process would end
    by the signal rather than with a status a supervisor reads as clean.
    """
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            for listener in self.servers:
                listener.close()  # stop accepting first: no new socket to close
            provider = getattr(app.state, "provider", None)
            if provider is not None:
                await provider.lifecycle.going_away(provider.config.drain_timeout_s)
            await super().shutdown(sockets)

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM:  # handled by draining, not to be re-raised
                self._captured_signals.remove(sig)

    return Server(settings)


def serve(
    config: ServerConfig,
    host: str,
    port: int,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    log_format: str = "text",
    forwarded_allow_ips: str | None = None,
) -> None:
    import ssl

    import uvicorn

    from accord.server.http_guard import guarded_http

    os.umask(0o077)  # whatever this process creates is its owner's only (keys, database, blobs)
    json_logs.configure(log_format)
    logging.getLogger("uvicorn.error").addFilter(_NoClientAddresses())
    app = create_app(config, extra_routes=extra_routes)
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        # --peer-ca: ask every TLS client for a certificate, verified against the peers'
        # trust anchors; optional, so devices without one still reach the client API
        # (peer routes require one: accord.federation.peer_tls).
        ssl_cert_reqs=ssl.CERT_OPTIONAL if config.peer_ca else ssl.CERT_NONE,
        ssl_ca_certs=config.peer_ca,
        # uvicorn's access log prints client addresses and concrete paths
        # (group ids, blob capabilities); our own log names route templates only.
        access_log=False,
        log_config=None,  # uvicorn's loggers write through ours (json_logs)
        server_header=False,  # T15: no software name or version in any response
        log_level="info",
        ws_max_size=1024 * 1024,
        # No permessage-deflate: its zlib state costs about 60 KiB per socket (most of
        # an idle socket's memory, docs/SCALING.md) to shrink frames that are mostly
        # base64 ciphertext; the binary body planned by issue 23 will not compress at all.
        ws_per_message_deflate=False,
        http=guarded_http(config.header_timeout_s),  # a deadline on every request head
        lifespan="on",
        timeout_graceful_shutdown=config.drain_timeout_s,
        # Whose X-Forwarded-For names the client (the load balancers); None: loopback.
        forwarded_allow_ips=forwarded_allow_ips,
    )
    draining_server(settings, app).run()
