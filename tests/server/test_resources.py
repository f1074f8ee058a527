"""A provider's resources under attack: deep JSON, too many sockets, slow headers, big uploads.

Each test starts from what an attacker can send over a socket and asserts
the exact refusal (status and error code, or WebSocket close code).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from tests.harness import (
    ServerProcess,
    SimDevice,
    group_path,
    mls_commit,
    mls_key_package,
    mls_new_group,
)
from tests.timing import wait_until

from accord.errors import DecodeError, PeerUnavailable
from accord.federation.peer_client import _answer
from accord.ratelimit import Limit
from accord.server.routes import http_routes
from accord.server.state import Provider, ServerConfig
from accord.storage import SqlStore
from accord.storage.engine import SqliteEngine
from accord.wire import MAX_JSON_DEPTH, loads, parse
from accord.wire import messages as m

DEEP = "[" * 200_000  # far past the recursion limit of Python's json
HEAD_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("provider"), rate_limit_scale=50.0,
                         extra_args=("--header-timeout", str(HEAD_TIMEOUT_S))).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=15.0) as client:
        yield client


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://") + "/v1/ws"


async def close_code(ws: websockets.ClientConnection) -> int:
    """Wait (bounded) for the server to close ``ws``; the code it closed with."""
    try:
        await asyncio.wait_for(ws.recv(), 10)
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code
    raise AssertionError("expected the socket to close")


# deep JSON ---------------------------------------------------------------------------


def test_json_nesting_is_bounded_before_parsing() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(ok) is not None
    with pytest.raises(DecodeError, match="nested deeper than 32"):
        loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    # brackets inside strings are data, not nesting
    assert loads(json.dumps({"a": "[" * 1000 + '\\"{' * 1000})) == {"a": "[" * 1000 + '\\"{' * 1000}
    with pytest.raises(DecodeError, match="nested deeper"):
        parse(m.ChallengeRequest, '{"device_id": ' + DEEP)


@pytest.mark.parametrize("path", ["/v1/auth/challenge", "/v1/accounts", "/v1/auth/login"])
async def test_deep_json_body_is_a_400(http: httpx.AsyncClient, path: str) -> None:
    r = await http.post(path, content=DEEP, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "decode_error"
    assert "nested deeper" in r.json()["message"]
    # the connection and the provider are still fine
    assert (await http.get("/healthz")).status_code == 200


async def test_deep_json_websocket_auth_closes_with_the_auth_code(server: ServerProcess) -> None:
    async with websockets.connect(ws_url(server), max_size=2**20) as ws:
        await ws.send(DEEP)
        assert await close_code(ws) == 4401


def test_deep_json_from_a_peer_is_a_peer_failure() -> None:
    answer = httpx.Response(200, content=DEEP.encode())
    with pytest.raises(PeerUnavailable, match="malformed answer"):
        _answer("evil.test", answer, m.Health)


async def device(http: httpx.AsyncClient, account: str) -> SimDevice:
    return await SimDevice(http, account).register()


# WebSockets per device -----------------------------------------------------------------


async def queued_device(http: httpx.AsyncClient, names: Any) -> SimDevice:
    """bob, with a Welcome waiting in his queue (so an authenticated socket gets a frame)."""
    alice, bob = await device(http, names("alice")), await device(http, names("bob"))
    gid = secrets.token_bytes(32)
    posting = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    new_group, mls_state = mls_new_group(alice, gid, posting)
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    commit, welcome, _ = mls_commit(mls_state, add=[mls_key_package(bob)])
    req = m.CommitRequest(epoch=0, commit=commit, posting_key=posting,
                          added=[bob.device_id], welcome=welcome)
    await alice.call("POST", group_path(gid, "/commits"), req, expect=201)
    return bob


async def open_socket(server: ServerProcess, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(ws_url(server))
    await ws.send(json.dumps({"type": "auth", "token": token}))
    return ws


async def test_a_device_holds_at_most_four_sockets(server: ServerProcess,
                                                   http: httpx.AsyncClient, names: Any) -> None:
    bob = await queued_device(http, names)
    sockets = []
    try:
        for _ in range(4):
            ws = await open_socket(server, bob.token)
            sockets.append(ws)
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))  # authenticated, watching
            assert [i["kind"] for i in frame["items"]] == ["welcome"]
        fifth = await open_socket(server, bob.token)
        assert await close_code(fifth) == 4429
        await sockets.pop().close()  # a closed socket frees its slot

        async def reopened() -> dict | None:  # the server notices the close asynchronously
            again = await open_socket(server, bob.token)
            try:
                frame = json.loads(await asyncio.wait_for(again.recv(), 10))
            except websockets.ConnectionClosed:
                return None
            sockets.append(again)
            return frame

        frame = await wait_until(reopened, 10.0, "a socket accepted in the freed slot")
        assert frame["type"] == "items"
    finally:
        for ws in sockets:
            await ws.close()


async def test_an_address_holds_at_most_eight_unauthenticated_sockets(
        tmp_path: Path, names: Any) -> None:
    """Issue 17: anyone may open a socket and wait up to the auth timeout before the
    first frame; one address gets 8 such sockets on a node (--max-pending-sockets-per-
    address, at rate-limit scale 1), and a socket that authenticates frees its slot."""
    server = ServerProcess(tmp_path, rate_limit_scale=1.0).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15.0) as http:
            bob = await queued_device(http, names)
        await _eight_pending(server, bob)
    finally:
        server.stop()


async def _eight_pending(server: ServerProcess, bob: SimDevice) -> None:
    waiting = [await websockets.connect(ws_url(server)) for _ in range(8)]
    try:
        ninth = await websockets.connect(ws_url(server))
        assert await close_code(ninth) == 4429
        await waiting[0].send(json.dumps({"type": "auth", "token": bob.token}))
        frame = json.loads(await asyncio.wait_for(waiting[0].recv(), 10))
        assert frame["type"] == "items"  # authenticated: no longer pending
        again = await websockets.connect(ws_url(server))
        waiting.append(again)
        await again.send(json.dumps({"type": "auth", "token": "nope"}))
        assert await close_code(again) == 4401  # let in: refused by its frame, not 4429
    finally:
        for ws in waiting:
            await ws.close()


# request heads -------------------------------------------------------------------------


def test_a_slow_request_head_is_closed(server: ServerProcess) -> None:
    """slowloris: a partial head, then one byte at a time; the provider hangs up."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed_after = None
        for _ in range(40):  # at most 40 x 0.25 s, far past the 1 s deadline
            try:
                s.sendall(b"X")
                s.settimeout(0.25)
                if s.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "the provider kept a slow head open"
    assert HEAD_TIMEOUT_S <= closed_after < HEAD_TIMEOUT_S + 3


def test_an_idle_kept_alive_connection_gets_the_same_deadline(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):  # the whole first answer (a JSON body)
            answer += s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next head, never finished
        s.settimeout(HEAD_TIMEOUT_S + 3)
        assert s.recv(1024) == b""
        assert time.monotonic() - started < HEAD_TIMEOUT_S + 3


def test_an_oversized_request_head_is_refused(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for i in range(100):  # 100 x 1 KiB header lines, more than the 32 KiB allowed
                s.sendall(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000))
        except (ConnectionResetError, BrokenPipeError):
            pass
        s.settimeout(5)
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431")


# blob uploads ---------------------------------------------------------------------------

BUDGET = 1024 * 1024  # the device's blob bytes in this test (no refill)
CHUNK = 64 * 1024
BODY_TIMEOUT_S = 0.5


class CountingBody:
    """An upload body that counts what the provider has pulled from it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            n = min(CHUNK, self.total - self.pulled)
            self.pulled += n
            yield b"\0" * n


@pytest.fixture
async def app_http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The provider's routes in this process (the body reaches them chunk by chunk)."""
    limits = {**ServerConfig("alpha.test", tmp_path).limits, "blob_bytes": Limit(0, BUDGET)}
    config = ServerConfig("alpha.test", tmp_path, limits=limits, body_timeout_s=BODY_TIMEOUT_S)
    store = await SqlStore(SqliteEngine(tmp_path / "p.sqlite3"), tmp_path / "blobs").open()
    app = Starlette(routes=http_routes())
    app.state.provider = Provider(config, store)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://alpha.test") as client:
        yield client
    await store.close()


async def test_a_declared_length_over_the_budget_is_refused_before_reading(
        app_http: httpx.AsyncClient) -> None:
    alice = await SimDevice(app_http, "alice@alpha.test").register()
    body = CountingBody(2 * BUDGET)
    headers = {**alice.auth, "Content-Length": str(body.total)}
    r = await app_http.post("/v1/blobs", content=body, headers=headers)
    assert (r.status_code, r.json()["error"]) == (429, "rate_limited")
    assert body.pulled == 0


async def test_an_undeclared_upload_stops_being_read_at_the_budget(
        app_http: httpx.AsyncClient) -> None:
    alice = await SimDevice(app_http, "alice@alpha.test").register()
    body = CountingBody(16 * BUDGET)  # chunked: no Content-Length to judge by
    r = await app_http.post("/v1/blobs", content=body, headers=alice.auth)
    assert (r.status_code, r.json()["error"]) == (429, "rate_limited")
    assert body.pulled <= BUDGET + CHUNK  # read up to the chunk that crossed the budget
    # the bytes read were charged; the budget is the device's own
    r = await app_http.post("/v1/blobs", content=b"x" * CHUNK, headers=alice.auth)
    assert (r.status_code, r.json()["error"]) == (429, "rate_limited")
    bob = await SimDevice(app_http, "bob@alpha.test").register()
    r = await app_http.post("/v1/blobs", content=b"x" * CHUNK, headers=bob.auth)
    assert r.status_code == 201, r.text


class StalledBody:
    """One chunk, then nothing, ever (a slow client holding the connection)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"\0" * CHUNK
        await asyncio.Event().wait()


@pytest.mark.parametrize("path", ["/v1/blobs", "/v1/keypackages"])
async def test_a_stalled_body_is_a_408_after_the_deadline(app_http: httpx.AsyncClient,
                                                         path: str) -> None:
    alice = await SimDevice(app_http, "alice@alpha.test").register()
    started = time.monotonic()
    r = await asyncio.wait_for(
        app_http.post(path, content=StalledBody(), headers=alice.auth), BODY_TIMEOUT_S + 10)
    assert (r.status_code, r.json()["error"]) == (408, "request_timeout")
    assert BODY_TIMEOUT_S <= time.monotonic() - started < BODY_TIMEOUT_S + 5
