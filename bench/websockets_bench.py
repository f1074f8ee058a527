"""Memory per idle WebSocket on one ``accord server`` node (issue 23).

``accord bench websockets [--json] [--sockets N] [--seconds S]``

Starts a provider process (SQLite), registers a device per 500 sockets, opens ``N``
authenticated push WebSockets (its queue empty, so each stays idle) and
reads the server's resident memory (``VmRSS`` of ``/proc/PID/status``)
before, at N/2 and at N sockets, each time once its metrics show them all
connected. Reported: ``sockets``, the three readings, ``kib_per_socket``
(all of the growth over N) and ``marginal_kib_per_socket`` (the growth
from N/2 to N over N/2, without one-time allocations: the node's memory for
a socket, its two tasks, buffers and the protocol objects of uvicorn and
websockets). Bounded by N and by ``--seconds``. Not a timed test: figures go to docs/SCALING.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from tests.harness import ServerProcess, SimDevice

from accord.federation.loopback import free_port

PER_DEVICE = 500  # sockets per device (the node's cap is per device)


def parse(args: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="accord bench websockets")
    ap.add_argument("--sockets", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=120.0)
    return ap.parse_args(args)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connected(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("accord_websocket_connections "):
            return float(line.split()[1])
    return -1.0


async def run(n: int, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    metrics_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), rate_limit_scale=100, extra_args=(
            "--metrics-bind", f"127.0.0.1:{metrics_port}",
            "--max-sockets-per-device", str(PER_DEVICE),
            "--max-pending-sockets-per-address", str(max(n, 8)))).start()
        assert server.proc is not None
        sockets: list[Any] = []
        try:
            async with httpx.AsyncClient(base_url=server.url) as http:
                devices = [await SimDevice(http, f"idle{i}@alpha.test").register()
                           for i in range(-(-n // PER_DEVICE))]
                await asyncio.sleep(1.0)  # start-up allocations settle
                before = rss_kib(server.proc.pid)
                url = server.url.replace("http://", "ws://") + "/v1/ws"
                auths = [json.dumps({"type": "auth", "token": d.token}) for d in devices]
                scrape = f"http://127.0.0.1:{metrics_port}/metrics"

                async def open_until(count: int) -> int:
                    while len(sockets) < count and time.monotonic() < deadline:
                        ws = await websockets.connect(url)
                        await ws.send(auths[len(sockets) // PER_DEVICE])
                        sockets.append(ws)
                    while connected((await http.get(scrape)).text) < len(sockets):
                        if time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(1.0)
                    return rss_kib(server.proc.pid)

                half = await open_until(n // 2)
                opened_half = len(sockets)
                after = await open_until(n)
        finally:
            for ws in sockets:
                with contextlib.suppress(Exception):
                    await ws.close()
            server.stop()
    opened, second_half = len(sockets), len(sockets) - opened_half
    return {"sockets": opened, "rss_before_kib": before, "rss_half_kib": half,
            "rss_after_kib": after,
            "kib_per_socket": round((after - before) / opened, 1) if opened else None,
            "marginal_kib_per_socket": round((after - half) / second_half, 1)
            if second_half else None}


def cli_main(args: list[str]) -> dict[str, Any]:
    a = parse(args)
    return asyncio.run(run(a.sockets, a.seconds))
