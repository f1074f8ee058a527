"""``accord bench web``: the local web app's server side (issue 20).

* first render: GET /api/conv/ID (the newest page of 200 of a 10,000-message
  conversation, through the whole app with its guard) and GET /api/state;
* push to page: a peer sends, the provider pushes, the app applies the pushed
  items and tells the page (server-sent event), the page fetches the
  conversation: the time until the message is in that answer (the browser's
  paint is not included); also from the moment the peer's post was accepted.

Usage: accord bench web [--messages N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from accord.client import conversations as convs
from accord.client import message_requests, messaging
from accord.client.device import Device
from accord.client.local_server import running_server
from accord.client.store import KdfParams, StoredMessage
from accord.web.app import create_app
from accord.web.live import Live
from accord.web.security import COOKIE, Session

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _fill(dev: Device, conv_id: str, n: int, sender: str) -> None:
    with dev.store.transaction():
        for i in range(n):
            dev.store.add_message(StoredMessage(
                os.urandom(16), conv_id, sender, "d", i, i, "text",
                f"message {i} about the weekend trip", None, False, False, None, {}))


async def _client(live: Live) -> tuple[httpx.AsyncClient, Session]:
    session = Session(8080)
    app = create_app(live, session, start_pump=False)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                               base_url="http://127.0.0.1:8080")
    client.cookies.set(COOKIE, session.cookie)
    return client, session


async def _timed(client: httpx.AsyncClient, path: str, rounds: int) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = await client.get(path)
        times.append(_ms(t0))
        assert r.status_code == 200, r.text
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


async def _run(root: Path, url: str, n: int, rounds: int) -> dict[str, Any]:
    now = lambda: time.time_ns() // 1_000_000  # noqa: E731
    alice = Device.init(root / "a", "p", kdf=CHEAP)
    bob = Device.init(root / "b", "p", kdf=CHEAP)
    await alice.register("alice@bench.test", url, now())
    await bob.register("bob@bench.test", url, now())
    conv = await convs.create(alice, "bench", ["bob@bench.test"], now())
    await bob.sync(now())
    for request in message_requests.pending(bob):  # a stranger's first contact (T14)
        await message_requests.accept(bob, request, now())
    _fill(bob, conv["conv_id"], n, "alice@bench.test")
    live = Live(bob)
    client, _ = await _client(live)
    out: dict[str, Any] = {"messages": n, "page": 200}
    out["first_render_conv"] = await _timed(client, f"/api/conv/{conv['conv_id']}", rounds)
    out["first_render_state"] = await _timed(client, "/api/state", rounds)
    q: asyncio.Queue[str] = asyncio.Queue()
    live.pages.add(q)
    pump = asyncio.create_task(live.pump())
    await asyncio.sleep(0.5)
    lat, posted = [], []
    for i in range(rounds):
        text = f"ping {i}"
        while not q.empty():
            q.get_nowait()
        t0 = time.perf_counter()
        await messaging.send_text(alice, conv, text, now())
        t_posted = time.perf_counter()
        while True:
            await asyncio.wait_for(q.get(), 10)
            r = await client.get(f"/api/conv/{conv['conv_id']}")
            if any(it.get("text") == text for it in r.json()["items"]):
                break
        lat.append(_ms(t0))
        posted.append(_ms(t_posted))
    pump.cancel()
    out["push_to_page"] = {"p50_ms": round(statistics.median(lat), 1),
                           "max_ms": round(max(lat), 1), "rounds": rounds}
    # the same, from the moment alice's post is accepted (her own encryption and
    # post excluded): the provider's push, bob's apply and the page's refetch
    out["posted_to_page"] = {"p50_ms": round(statistics.median(posted), 1),
                             "max_ms": round(max(posted), 1)}
    await client.aclose()
    for d in (alice, bob):
        await d.disconnect()
        d.close()
    return out


def cli_main(args: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="accord bench web")
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=20)
    ns = p.parse_args(args)
    with tempfile.TemporaryDirectory(prefix="accord-bench-web-") as tmp, \
            running_server(Path(tmp) / "srv", "bench.test") as srv:
        return asyncio.run(_run(Path(tmp), srv.url, ns.messages, max(1, ns.rounds)))
