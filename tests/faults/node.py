"""A provider node in this process (the real app, its lifespan and its store), for
tests that inject faults into the store under it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.server.app import create_app
from accord.server.state import ServerConfig, wall_clock_ms
from accord.wire import encode
from accord.wire import messages as m
from tests.harness import (
    SimDevice,
    application_post,
    group_path,
    mls_commit,
    mls_key_package,
    mls_new_group,
    posting_public,
    sealed_body,
)


@dataclass
class Node:
    app: Any
    http: httpx.AsyncClient

    @property
    def store(self) -> Any:
        return self.app.state.provider.store


@asynccontextmanager
async def running_node(data_dir: Path, database: str | None = None,
                       bus: str | None = None,
                       clock: Callable[[], int] = wall_clock_ms) -> AsyncIterator[Node]:
    config = ServerConfig(domain="alpha.test", data_dir=data_dir, database=database,
                          bus_url=bus, rate_limit_scale=1000.0)
    app = create_app(config, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node",
                                     timeout=30.0) as http:
            yield Node(app, http)


@dataclass
class Group:
    alice: SimDevice
    bob: SimDevice
    group_id: bytes
    posting_key: Ed25519PrivateKey


async def group_of_two(http: httpx.AsyncClient) -> Group:
    alice = await SimDevice(http, "alice@alpha.test").register()
    bob = await SimDevice(http, "bob@alpha.test").register()
    gid, pk0, pk1 = secrets.token_bytes(32), Ed25519PrivateKey.generate(), \
        Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk0))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    commit, welcome, _ = mls_commit(mls_state, add=[mls_key_package(bob)])
    await alice.call("POST", group_path(gid, "/commits"), m.CommitRequest(
        epoch=0, commit=commit, posting_key=posting_public(pk1),
        added=[bob.device_id], welcome=welcome), expect=201)
    return Group(alice, bob, gid, pk1)


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
