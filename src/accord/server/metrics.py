"""Prometheus metrics of one node, served on a separate listener (``--metrics-bind``).

What is measured: HTTP requests by route template, method and status, their
latency, open WebSockets, the outbound federation backlog, and database and
bus (NATS) errors. Labels are drawn from fixed sets only: a route is the
template (``/v1/groups/{group_id}``), never the concrete path, which carries
group ids and blob capabilities; no account, device, group, peer or address
is ever a label, so the output names nobody and its size is bounded.

Why a separate listener: the public port faces every client, and the counts
are the provider's own business (traffic per route, the size of what it owes
its peers). ``accord server --metrics-bind 127.0.0.1:9400`` serves
``/metrics`` there only, for a scraper on the host or its private network;
the public port has no ``/metrics`` route. Each app has its own registry, so
several apps in one process (tests) never mix counts.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Route, WebSocketRoute

from accord.errors import AccordError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from accord.server.state import Provider

log = logging.getLogger("accord.server.metrics")
BACKLOG_EVERY_S = 5.0
UNMATCHED = "unmatched"  # a path no route serves (a 404), never the path itself
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def is_database_error(exc: BaseException) -> bool:
    """A failure of the store's driver or of the connection to it."""
    module = type(exc).__module__.split(".")[0]
    return module == "asyncpg" or isinstance(exc, (sqlite3.Error, OSError, TimeoutError))


class Metrics:
    """One node's registry and the instruments the app and its tasks update."""

    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series only double the output
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("accord_http_requests", "HTTP requests answered",
                                ("route", "method", "status"), registry=self.registry)
        self.latency = Histogram("accord_http_request_seconds", "Time to answer a request",
                                 ("route", "method"), buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.database_errors = Counter("accord_database_errors",
                                       "Failed database operations seen by this node",
                                       registry=self.registry)
        self.backlog: dict[str, int] = {}  # peer -> items, refreshed by backlog_loop
        self._watched: Collector | None = None

    def database_error(self, exc: BaseException) -> None:
        self.database_errors.inc()

    def watch(self, provider: Provider) -> None:
        """Add the figures read from the provider at each scrape (sockets, bus, backlog)."""
        if self._watched is not None:  # a second lifespan of the same app
            self.registry.unregister(self._watched)
        self._watched = _ProviderCollector(provider, self)
        self.registry.register(self._watched)

    def serve(self, bind: str) -> Any:
        """Serve ``/metrics`` on ``host:port`` in a thread; returns the server to shut down."""
        host, _, port = bind.rpartition(":")
        server, _thread = start_http_server(int(port), host or "127.0.0.1",
                                            registry=self.registry)
        return server


class _ProviderCollector(Collector):
    def __init__(self, provider: Provider, metrics: Metrics) -> None:
        self.provider = provider
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        p, backlog = self.provider, self.metrics.backlog.values()
        for family, name, text, value in (
            (GaugeMetricFamily, "accord_websocket_connections",
             "Open push WebSockets on this node", len(p.lifecycle.sockets)),
            (CounterMetricFamily, "accord_websocket_slow_consumers",
             "WebSockets dropped for taking no frame in time", p.lifecycle.slow_consumers),
            (GaugeMetricFamily, "accord_federation_outbox_items",
             "Items waiting in the outbound federation queue (all nodes)", sum(backlog)),
            (GaugeMetricFamily, "accord_federation_outbox_peers",
             "Peers this provider owes at least one item", sum(1 for n in backlog if n > 0)),
            (CounterMetricFamily, "accord_bus_errors",
             "Bus (NATS) errors and disconnections", p.bus.errors),
            (CounterMetricFamily, "accord_bus_news_dropped",
             "Wake-ups for other nodes not sent (bus unreachable)", p.bus.dropped),
            (GaugeMetricFamily, "accord_posts_pending",
             "Posts waiting for the node's next group commit", p.store.posts.depth),
            (GaugeMetricFamily, "accord_news_pending",
             "Devices with news not yet published on the bus", p.news.depth),
            (CounterMetricFamily, "accord_news_overflowed",
             "Wake-ups past the news queue's bound (woken by resync)", p.news.overflowed),
            (GaugeMetricFamily, "accord_bus_connected",
             "1 when the bus is connected", 1 if p.bus.connected else 0),
        ):
            metric = family(name, text)
            metric.add_metric([], value)
            yield metric
        shared = CounterMetricFamily("accord_rate_limit_absorbed_tokens",
                                     "Rate-limit tokens other nodes took, by limit",
                                     labels=["limit"])
        for kind, tokens in sorted(p.limiter.absorbed.items()):
            shared.add_metric([kind], tokens)
        yield shared


async def refresh_backlog(provider: Provider, metrics: Metrics) -> None:
    try:
        metrics.backlog = await provider.store.fed_outbox_size()
    except (AccordError, OSError) as exc:
        metrics.database_error(exc)
        log.warning("could not read the outbound queue's size: %s", type(exc).__name__)


async def backlog_loop(provider: Provider, metrics: Metrics) -> None:
    """The backlog is a query; it is read every few seconds, not on each scrape."""
    while True:
        await refresh_backlog(provider, metrics)
        await asyncio.sleep(BACKLOG_EVERY_S)


def route_templates(routes: list[BaseRoute]) -> dict[Any, str]:
    """Each route's endpoint and its template, to name a request after routing."""
    return {r.endpoint: r.path for r in routes if isinstance(r, (Route, WebSocketRoute))}


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: dict[Any, str]) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException as exc:
            status = 500
            if is_database_error(exc):
                self.metrics.database_error(exc)
            raise
        finally:
            route = self.templates.get(scope.get("endpoint"), UNMATCHED)
            method = scope["method"] if route != UNMATCHED else "-"
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
