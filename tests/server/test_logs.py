"""The server's log names no token, key, nonce, content or capability (and no address)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import (
    ServerProcess,
    SimDevice,
    application_post,
    group_path,
    mls_commit,
    mls_key_package,
    mls_new_group,
    posting_public,
)

from accord.wire import b64e, encode
from accord.wire import messages as m


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_logs_hold_no_secret_or_content(tmp_path: Path, log_format: str) -> None:
    server = ServerProcess(tmp_path, rate_limit_scale=100,
                           extra_args=("--log-format", log_format)).start()
    secrets_seen: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            alice = await SimDevice(http, "alice@alpha.test").register()
            bob = await SimDevice(http, "bob@alpha.test").register()
            gid, pk0, pk1 = secrets.token_bytes(32), Ed25519PrivateKey.generate(), \
                Ed25519PrivateKey.generate()
            new_group, mls_state = mls_new_group(alice, gid, posting_public(pk0))
            await alice.call("POST", "/v1/groups", new_group, expect=201)
            commit, welcome, _ = mls_commit(mls_state,
                                            add=[mls_key_package(bob)])
            await alice.call("POST", group_path(gid, "/commits"), m.CommitRequest(
                epoch=0, commit=commit, posting_key=posting_public(pk1),
                added=[bob.device_id], welcome=welcome), expect=201)
            post = application_post(pk1, gid, 1, b"PLAINTEXT-LIKE-" + secrets.token_bytes(16))
            await http.post(group_path(gid, "/messages"), json=encode(post))
            await http.post(group_path(gid, "/messages"), json=encode(post))  # replay: 409
            blob = secrets.token_bytes(64)
            r = await http.post("/v1/blobs", content=blob, headers=alice.auth)
            cap = r.json()["blob_id"]
            await http.get(f"/v1/blobs/{cap}")
            await http.get("/v1/queue", headers={"Authorization": "Bearer not-a-real-token"})
            await bob.fetch()
            ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
            async with websockets.connect(ws_url) as ws:
                await ws.send(json.dumps({"type": "auth", "token": bob.token}))
                await asyncio.wait_for(ws.recv(), 10)
            secrets_seen = [
                alice.token, bob.token, b64e(alice.public), b64e(bob.public),
                b64e(posting_public(pk1)), b64e(post.nonce), b64e(post.ciphertext),
                b64e(post.signature), b64e(commit), cap, b64e(blob), b64e(gid),
                "not-a-real-token", "PLAINTEXT-LIKE", b64e(welcome or b""),
            ]
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "POST /v1/groups/{group_id}/messages -> 201" in log  # the log did record requests
    if log_format == "json":
        assert_json_lines(log)
    for value in secrets_seen:
        assert value not in log, "a secret or content reached the log"
    assert "127.0.0.1:" not in log.replace(f"127.0.0.1:{server.port}", "")  # no client ports
    assert "('127.0.0.1'" not in log


def assert_json_lines(log: str) -> None:
    """Every line one object with the fixed keys; requests carry their fields apart."""
    events = [json.loads(line) for line in log.splitlines()]
    assert events and all(isinstance(e, dict) for e in events)
    for event in events:
        assert {"time", "level", "logger", "event"} <= event.keys(), event
        assert event["time"].endswith("+00:00")
    posts = [e for e in events if e.get("route") == "/v1/groups/{group_id}/messages"]
    assert {(e["method"], e["status"]) for e in posts} == {("POST", 201), ("POST", 409)}
    assert all(isinstance(e["ms"], float) for e in posts)


def test_a_json_line_keeps_only_safe_fields_and_no_exception_text() -> None:
    import logging

    from accord.server.json_logs import JsonLines

    secret = "SECRET-" + secrets.token_hex(8)
    try:
        raise ValueError(f"bad body {secret}")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("accord.server.http", logging.ERROR, __file__, 1,
                               "request failed", (), exc_info)
    record.__dict__.update(route="/v1/queue", status=500, token=secret, client="10.0.0.7")
    line = json.loads(JsonLines().format(record))
    assert line["event"] == "request failed" and line["route"] == "/v1/queue"
    assert line["status"] == 500 and line["exc_type"] == "ValueError"
    assert "token" not in line and "client" not in line
    assert secret not in json.dumps(line) and "10.0.0.7" not in json.dumps(line)
