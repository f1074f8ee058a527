"""A provider's resources under attack: deep JSON, too many sockets, slow headers, big uploads.

Each test starts from what an attacker can send over a socket and asserts
the exact refusal (status and error code, or WebSocket close code).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets

from accord.errors import DecodeError, PeerUnavailable
from accord.federation.peer_client import _answer
from accord.server.harness import ServerProcess, SimDevice
from accord.wire import MAX_JSON_DEPTH, loads, parse
from accord.wire import messages as m

DEEP = "[" * 200_000  # far past the recursion limit of Python's json


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("provider"), rate_limit_scale=50.0).start()
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


async def device(http: httpx.AsyncClient, names: Any, user: str) -> SimDevice:
    return await SimDevice(http, names(user)).register()
