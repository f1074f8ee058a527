"""A provider node in this process (the real app, its lifespan and its store), for
tests that inject faults into the store under it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from accord.server.app import create_app
from accord.server.state import ServerConfig, wall_clock_ms
from accord.wire import encode
from tests.harness import (
    Group,
    SimDevice,
    application_post,
    group_of_two,
    group_path,
    sealed_body,
)

__all__ = ["Group", "Node", "assert_store_unavailable", "group_of_two", "post", "received",
           "running_node"]


@dataclass
class Node:
    app: Any
    http: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport  # for a client's ProviderApi(..., transport=)

    @property
    def store(self) -> Any:
        return self.app.state.provider.store


@asynccontextmanager
async def running_node(data_dir: Path, database: str | None = None,
                       bus: str | None = None,
                       clock: Callable[[], int] = wall_clock_ms) -> AsyncIterator[Node]:
    """The real app of a provider in this process, its lifespan running, on ``clock``;
    its HTTP API at ``http://node`` through ``Node.transport``."""
    config = ServerConfig(domain="alpha.test", data_dir=data_dir, database=database,
                          bus_url=bus, rate_limit_scale=1000.0)
    app = create_app(config, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node",
                                     timeout=30.0) as http:
            yield Node(app, http, transport)


async def post(http: httpx.AsyncClient, group: Group, body: bytes) -> httpx.Response:
    p = application_post(group.posting_key, group.group_id, 1, body)
    return await http.post(group_path(group.group_id, "/messages"), json=encode(p))


async def received(device: SimDevice) -> list[bytes]:
    """The bodies of the application messages in a device's queue, in order."""
    page = await device.fetch(after=0, limit=500)
    return [sealed_body(i.body) for i in page.items if i.kind == "application"]


def assert_store_unavailable(r: httpx.Response) -> None:
    """A clear, typed refusal: 503 with the ``unavailable`` code and a Retry-After, never a 500."""
    assert r.status_code == 503, (r.status_code, r.text, r.headers)
    assert r.json()["error"] == "unavailable", r.text
    assert r.headers.get("retry-after") == "2", r.headers
