"""What a dishonest provider does to its own users, for the issue 7 evidence tests.

Each attack is the provider's own power, exercised on its real data while
its process keeps running (the provider's store and keys are under its
data folder, which the test can read):

- :func:`substitute_key_packages`: the directory hands out a KeyPackage
  whose key the provider controls, and says (in ``devices``) that it is the
  user's key, without logging it (T06).
- :func:`add_ghost_device`: the provider adds a device to a user's account
  through its own log code, so it can serve the ghost's key with valid
  proofs (T05).
- :class:`ForkProxy`: the provider shows one audience a forked log (the
  user with a ghost key), signed with its real key, on a loopback address
  that audience uses as the provider's address; everything else is relayed
  to the real process (T06/T07 split view).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from accord.federation import provider_key
from accord.mls.codec import encode as tls_encode
from accord.server.transparency import TransparencyLog
from accord.storage import DeviceRecord
from accord.storage.areas import Secrets
from accord.storage.engine import Engine, PostgresEngine, SqliteEngine
from accord.storage.transparency_sql import load_entries
from accord.transparency import (
    KeyDirectory,
    LookupProof,
    MemoryEntryStore,
    MemoryNodeStore,
    MerkleLog,
    SignedTreeHead,
    Succession,
    leaf_hash,
)
from accord.wire import codec
from accord.wire import transparency as wt
from tests.federation.providers import Provider
from tests.harness import free_port
from tests.timing import wait_until


def _engine(provider: Provider) -> Engine:
    """The provider's own database, on whichever engine it runs."""
    if provider.database:
        return PostgresEngine(provider.database)
    return SqliteEngine(provider.data_dir / "provider.sqlite3")


async def substitute_key_packages(provider: Provider, device_id: str,
                                  key_packages: dict[int, bytes], signature_key: bytes) -> None:
    """Serve ``key_packages`` (suite -> a KeyPackage of the provider's key) for ``device_id``
    in each suite it offers, one-time and last resort alike; list that key as the device's."""
    engine = _engine(provider)
    await engine.open()
    try:
        async with engine.transaction() as tx:
            for suite, key_package in key_packages.items():
                await tx.execute("UPDATE key_packages SET data = ?"
                                 " WHERE device_id = ? AND cipher_suite = ?",
                                 key_package, device_id, suite)
                await tx.execute("UPDATE last_resort_key_packages SET data = ?"
                                 " WHERE device_id = ? AND cipher_suite = ?",
                                 key_package, device_id, suite)
            await tx.execute("UPDATE devices SET signature_key = ? WHERE device_id = ?",
                             signature_key, device_id)
    finally:
        await engine.close()


async def add_ghost_device(provider: Provider, account: str, now: int) -> bytes:
    """Add a device the provider controls to ``account``, logged; the ghost's public key."""
    ghost = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    engine = _engine(provider)
    await engine.open()
    try:
        keys = await provider_key.load(provider.data_dir, Secrets(engine))
        kt = TransparencyLog(provider.domain, engine, keys.signing, keys.index)
        await kt.reload()
        await kt.add_device(DeviceRecord("ghost" + ghost.hex()[:17], account, ghost, now), now)
    finally:
        await engine.close()
    return ghost


async def forked_directory(provider: Provider, account: str, keys: list[bytes],
                           now: int) -> KeyDirectory:
    """The provider's real log plus one entry giving ``account`` these keys (not in the real log)."""
    engine = _engine(provider)
    await engine.open()
    try:
        async with engine.read() as tx:
            entries = await load_entries(tx)
        index_key = await provider_key.index_key(provider.data_dir, Secrets(engine))
    finally:
        await engine.close()
    nodes, stored = MemoryNodeStore(), MemoryEntryStore()
    MerkleLog(nodes).extend_hashes([leaf_hash(e) for e in entries])
    for position, data in enumerate(entries):
        stored.append_entry(position, data)
    fork = KeyDirectory(provider.domain, index_key, nodes, stored)
    fork.publish(account, keys, now)
    return fork


class ForkProxy:
    """A loopback front of ``provider`` that serves the forked log ``fork``."""

    def __init__(self, provider: Provider, fork: KeyDirectory, now: int) -> None:
        self.provider = provider
        self.fork = fork
        self.key: Any = provider.key()
        self.now = now
        self.port = free_port()
        self.served = 0
        self._http = httpx.AsyncClient(base_url=provider.url, timeout=15.0)
        app = Starlette(routes=[
            Route("/v1/transparency/head", self._head),
            Route("/v1/transparency/lookup/{account}", self._lookup),
            Route("/v1/transparency/consistency", self._consistency),
            Route("/{path:path}", self._relay, methods=["GET", "POST"]),
        ])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _sth(self) -> bytes:
        return tls_encode(SignedTreeHead, self.fork.signed_head(self.key, self.now))

    async def _head(self, request: Request) -> Response:
        self.served += 1
        return JSONResponse(codec.encode(wt.KtHead(self._sth())))

    async def _lookup(self, request: Request) -> Response:
        self.served += 1
        account = request.path_params["account"]
        proof = tls_encode(LookupProof, self.fork.lookup(account))
        return JSONResponse(codec.encode(wt.KtLookup(account, self._sth(), proof)))

    async def _consistency(self, request: Request) -> Response:
        old, new = int(request.query_params["old"]), int(request.query_params["new"])
        if new > self.fork.size:
            return JSONResponse({"error": "validation_error", "message": "size"}, 422)
        proof = list(self.fork.consistency_proof(old, new))
        return JSONResponse(codec.encode(wt.KtConsistency(old, new, proof)))

    async def _relay(self, request: Request) -> Response:
        r = await self._http.request(request.method, "/" + request.path_params["path"],
                                     content=await request.body(),
                                     headers={"content-type": "application/json"})
        return Response(r.content, r.status_code, media_type="application/json")

    async def __aenter__(self) -> ForkProxy:
        self._task = asyncio.create_task(self._server.serve())
        await wait_until(lambda: self._server.started, 4.0, "the fork proxy started")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)
        await self._http.aclose()


async def replace_logged_key(provider: Provider, account: str, device_id: str,
                             new_key: bytes, now: int,
                             succession: Succession | None = None) -> None:
    """Swap a device's key for the provider's own, and log the swap (a substitution in the
    open); ``succession``: published with it, as if the old key had named the new one."""
    engine = _engine(provider)
    await engine.open()
    try:
        keys = await provider_key.load(provider.data_dir, Secrets(engine))
        kt = TransparencyLog(provider.domain, engine, keys.signing, keys.index)
        await kt.reload()
        async with engine.read() as tx:
            row = await tx.fetchone(
                "SELECT signature_key, created_at FROM devices WHERE device_id = ?", device_id)
        assert row is not None
        await kt.remove_device(DeviceRecord(device_id, account, bytes(row[0]), int(row[1])), now)
        await kt.add_device(DeviceRecord(device_id, account, new_key, now), now, succession)
    finally:
        await engine.close()
