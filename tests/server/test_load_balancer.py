"""The sample deployment's load balancer (deploy/haproxy.cfg) in front of three nodes on
one PostgreSQL and NATS: a node that drains sends its devices elsewhere, and they miss
nothing (issue 23, docs/SCALING.md)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import websockets
from tests.harness import (
    ServerProcess,
    SimDevice,
    application_post,
    group_of_two,
    group_path,
)
from tests.server.cluster import services_or_skip, start_nodes
from tests.server.test_operations import sample
from tests.timing import wait_until

from accord.federation.loopback import free_port
from accord.wire import encode

ROOT = Path(__file__).resolve().parents[2]


async def _push(ws: websockets.ClientConnection) -> dict[str, object]:
    frame: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), 15))
    return frame


@pytest.mark.pg
@pytest.mark.nats
async def test_a_draining_node_sends_its_websockets_to_the_others_and_nothing_is_lost(
        tmp_path: Path) -> None:
    from tests.pg import create_database, drop_database

    admin, nats_url = services_or_skip("haproxy")
    haproxy = shutil.which("haproxy") or "haproxy"
    url, name = await create_database(admin)
    nodes: list[ServerProcess] = []
    lb: subprocess.Popen[bytes] | None = None
    try:
        nodes = start_nodes(tmp_path, url, nats_url, 3, lambda i: (
            "--metrics-bind", f"127.0.0.1:{free_port()}"))
        lb_port = free_port()
        env = {**os.environ, "ACCORD_LB_BIND": f"127.0.0.1:{lb_port}",
               **{f"ACCORD_NODE{i + 1}": f"127.0.0.1:{n.port}" for i, n in enumerate(nodes)}}
        lb = subprocess.Popen([haproxy, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{lb_port}"
        async with httpx.AsyncClient(base_url=base, timeout=15.0) as http:

            async def lb_ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_until(lb_ready, 20.0, "the balancer answering /readyz")
            alice, bob, gid, pk1 = await group_of_two(http)
            ws = await websockets.connect(base.replace("http://", "ws://") + "/v1/ws")
            await ws.send(json.dumps({"type": "auth", "token": bob.token}))
            welcome = await _push(ws)
            cursor = max(int(i["seq"]) for i in welcome["items"])  # type: ignore[union-attr]
            holder = await _holder(nodes)
            assert holder.proc is not None
            holder.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await _push(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            assert await asyncio.to_thread(holder.proc.wait, 30) == 0
            # Bob reconnects through the same address and resumes from his cursor.
            ws = await websockets.connect(base.replace("http://", "ws://") + "/v1/ws")
            await ws.send(json.dumps({"type": "auth", "token": bob.token, "after": cursor}))
            sent = []
            for _ in range(5):  # posted through the balancer, to whichever nodes remain
                post = application_post(pk1, gid, 1, os.urandom(32))
                r = await http.post(group_path(gid, "/messages"), json=encode(post))
                assert r.status_code == 201, r.text
                sent.append(r.json()["msg_id"])
            got: list[str] = []
            while len(got) < len(sent):
                got += [str(i["msg_id"]) for i in (await _push(ws))["items"]]  # type: ignore[union-attr]
            assert got == sent  # each once, in the order they were accepted
            await ws.close()
            assert await lb_ready()
            await SimDevice(http, "carol@alpha.test").register()  # the provider goes on
    finally:
        if lb is not None:
            lb.terminate()
            lb.wait(10)
        for node in nodes:
            node.stop()
        await drop_database(admin, name)


async def _holder(nodes: list[ServerProcess]) -> ServerProcess:
    """The node holding the one open WebSocket, by its metrics."""
    async with httpx.AsyncClient() as http:
        for node in nodes:
            bind = node.extra_args[node.extra_args.index("--metrics-bind") + 1]
            text = (await http.get(f"http://{bind}/metrics")).text
            if sample(text, "accord_websocket_connections") == 1:
                return node
    raise AssertionError("no node holds the WebSocket")
