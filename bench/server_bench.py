"""End-to-end delivery through a real ``accord server`` on loopback.

``accord bench server [--json] [--engines sqlite,postgresql] [--groups 2,10,100]
[--messages N] [--seconds S] [--concurrency C] [--rate R] [--payload BYTES]
[--body binary|json]``

For each engine and group size: start a provider process, register one
simulated device per member, create the group with a real MLS commit, open
one WebSocket per member, then post ``N`` hidden-sender application messages
(opaque ``--payload``-byte ciphertexts, issue 11) from ``C`` concurrent
posters, optionally paced at ``R`` posts per second. A message counts as
delivered when every member's WebSocket has received it; its latency runs
from the start of the POST to the last member's receipt.

Reported per run: ``deliveries_per_s`` (message copies pushed per second),
``msgs_per_s`` (messages fully delivered per second), ``p50_ms``/``p99_ms``
of delivery latency, ``delivered`` and ``expected`` counts, and
``server_cpu_ms_per_msg`` (CPU of the server processes per delivered message). Every loop is
bounded by the message count and by ``--seconds``. PostgreSQL runs need
``ACCORD_TEST_PG`` (an admin URL); each run uses its own throwaway database.
Not a timed test: figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import (
    DeliveryTally,
    ServerProcess,
    SimDevice,
    application_post,
    group_path,
    listen_for_deliveries,
    mls_commit,
    mls_key_package,
    mls_new_group,
    posting_public,
)
from tests.pg import create_database, drop_database

from accord.wire import encode
from accord.wire import messages as m
from accord.wire import privacy as w
from accord.wire.binary import post_headers

BASELINE = Path(__file__).resolve().with_name("attributed_baseline.py")


def add_load_options(ap: argparse.ArgumentParser) -> None:
    """The options of the load :func:`measure` sends (the cluster benchmark's too)."""
    ap.add_argument("--engines", default="sqlite,postgresql")
    ap.add_argument("--groups", default="2,10,100")
    ap.add_argument("--messages", type=int, default=400, help="posts per run (bounded)")
    ap.add_argument("--seconds", type=float, default=60.0, help="time limit per run")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rate", type=float, default=0.0, help="posts per second; 0 = unpaced")
    ap.add_argument("--payload", type=int, default=1024)
    ap.add_argument("--body", choices=("binary", "json"), default="binary",
                    help="hidden-sender posts as MLS bytes (message/mls) or as JSON")


def parse(args: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="accord bench server")
    add_load_options(ap)
    ap.add_argument("--posting", default="hidden,authenticated",
                    help="hidden (issue 11) and/or authenticated (the session baseline)")
    return ap.parse_args(args)


async def _members(http: httpx.AsyncClient, n: int
                   ) -> tuple[list[SimDevice], bytes, Any, Any]:
    tag = secrets.token_hex(3)
    devices = [await SimDevice(http, f"u{i}x{tag}@alpha.test").register() for i in range(n)]
    gid, pk0, pk1 = secrets.token_bytes(32), Ed25519PrivateKey.generate(), \
        Ed25519PrivateKey.generate()
    creator = devices[0]
    new_group, mls_state = mls_new_group(creator, gid, posting_public(pk0))
    await creator.call("POST", "/v1/groups", new_group, expect=201)
    commit, welcome, state = mls_commit(mls_state,
                                        add=[mls_key_package(d) for d in devices[1:]])
    await creator.call("POST", group_path(gid, "/commits"), m.CommitRequest(
        epoch=0, commit=commit, posting_key=posting_public(pk1),
        added=[d.device_id for d in devices[1:]], welcome=welcome), expect=201)
    return devices, gid, pk1, state


def _ciphertexts(state: Any, n: int, payload: int) -> list[bytes]:
    """``n`` real MLS PrivateMessages (the hub checks their header), made before timing."""
    from accord.mls import group as g

    out = []
    for _ in range(n):
        msg, state = g.protect(state, secrets.token_bytes(payload))
        out.append(bytes(msg.to_bytes()))
    return out


async def _post_all(servers: list[ServerProcess], gid: bytes, pk: Ed25519PrivateKey,
                    tally: DeliveryTally, opts: argparse.Namespace, deadline: float,
                    bodies: list[bytes], poster_device: SimDevice | None = None) -> int:
    """Hidden-sender posts, or (``poster_device`` given) attributed posts under its session.
    Poster ``j`` posts to ``servers[j % len(servers)]`` (a round-robin balancer)."""
    todo = iter(range(opts.messages))
    sent = 0
    t0 = time.perf_counter()
    limits = httpx.Limits(max_connections=opts.concurrency)

    async def poster(http: httpx.AsyncClient) -> None:
        nonlocal sent
        for i in todo:
            if time.perf_counter() > deadline:
                return
            if opts.rate > 0:
                delay = t0 + i / opts.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            start = time.perf_counter()
            if poster_device is None:
                post = application_post(pk, gid, 1, bodies[i])
                if getattr(opts, "body", "json") == "binary":
                    r = await http.post(group_path(gid, "/messages"), content=post.ciphertext,
                                        headers=post_headers(post))
                else:
                    r = await http.post(group_path(gid, "/messages"), json=encode(post))
            else:
                r = await http.post(group_path(gid, "/messages/attributed"),
                                    json=encode(w.AttributedPost(epoch=1, ciphertext=bodies[i])),
                                    headers=poster_device.auth)
            if r.status_code == 201:
                tally.started[r.json()["msg_id"]] = start
                sent += 1

    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(
            httpx.AsyncClient(base_url=s.url, timeout=30.0, limits=limits)) for s in servers]
        await asyncio.gather(*(poster(clients[j % len(clients)])
                               for j in range(opts.concurrency)))
    return sent


async def run_one(engine: str, size: int, opts: argparse.Namespace,
                  mode: str = "hidden") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        database, name, admin = None, "", os.environ.get("ACCORD_TEST_PG", "")
        if engine == "postgresql":
            if not admin:
                return {"skipped": "ACCORD_TEST_PG is unset"}
            database, name = await create_database(admin, "accord_bench")
        # The attributed baseline runs in a provider started by bench/attributed_baseline.py,
        # which hands its route to the app factory; `accord server` has no such route.
        entry = (str(BASELINE),) if mode == "authenticated" else ("-m", "accord", "server")
        server = ServerProcess(Path(tmp), database=database, rate_limit_scale=10_000,
                               entry=entry).start()
        try:
            return await measure([server], size, opts, mode)
        finally:
            server.stop()
            if name:
                await drop_database(admin, name)


async def measure(servers: list[ServerProcess], size: int, opts: argparse.Namespace,
                  mode: str = "hidden") -> dict[str, Any]:
    """One run against already started nodes: member ``k`` listens on node ``k % len``,
    posts are spread the same way; all nodes serve one provider (one database)."""
    async with httpx.AsyncClient(base_url=servers[0].url, timeout=30.0) as http:
        devices, gid, pk, state = await _members(http, size)
    bodies = _ciphertexts(state, opts.messages, opts.payload)
    tally, stop = DeliveryTally(size), asyncio.Event()
    urls = [s.url.replace("http://", "ws://") + "/v1/ws" for s in servers]
    readies = [asyncio.Event() for _ in devices]
    listeners = [asyncio.create_task(listen_for_deliveries(
        urls[k % len(urls)], d.token, tally, r, stop, lambda item: item["msg_id"]))
        for k, (d, r) in enumerate(zip(devices, readies, strict=True))]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    cpu0 = _cpu_s(servers)
    t0 = time.perf_counter()
    deadline = t0 + opts.seconds
    tally.expected = await _post_all(servers, gid, pk, tally, opts, deadline, bodies,
                                     devices[0] if mode == "authenticated" else None)
    if len(tally.done) < tally.expected:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.all_done.wait(), max(1.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - t0
    cpu = _cpu_s(servers) - cpu0
    stop.set()
    await asyncio.gather(*listeners, return_exceptions=True)
    lat = tally.latencies_ms()
    return {
        "posting": mode,
        "members": size,
        "expected": tally.expected,
        "delivered": len(lat),
        "msgs_per_s": round(len(lat) / elapsed, 1),
        "deliveries_per_s": round(tally.deliveries / elapsed, 1),
        "p50_ms": round(statistics.median(lat), 2) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else None,
        "elapsed_s": round(elapsed, 2),
        # CPU time of the server processes per message delivered: steadier than the
        # rates on a shared machine (waiting for the cores is not in it).
        "server_cpu_ms_per_msg": round(1000 * cpu / len(lat), 2) if lat else None,
    }


def _cpu_s(servers: list[ServerProcess]) -> float:
    """User + system CPU seconds of the server processes so far (Linux /proc)."""
    total = 0
    for server in servers:
        assert server.proc is not None
        fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def load_header(opts: argparse.Namespace) -> dict[str, Any]:
    """The load of a run, as the report's head says it (the cluster benchmark's too)."""
    return {
        "payload_bytes": opts.payload,
        "messages_per_run": opts.messages,
        "concurrency": opts.concurrency,
        "rate_per_s": opts.rate or "unpaced",
    }


def cli_main(args: list[str]) -> dict[str, Any]:
    opts = parse(args)
    out = load_header(opts)
    modes = opts.posting.split(",")
    for engine in opts.engines.split(","):
        for size in (int(s) for s in opts.groups.split(",")):
            runs = {mode: asyncio.run(run_one(engine, size, opts, mode)) for mode in modes}
            out[f"{engine}_group_{size}"] = runs.get("hidden", runs[modes[0]])
            if "authenticated" in runs and "hidden" in runs:
                out[f"{engine}_group_{size}_authenticated"] = runs["authenticated"]
                out[f"{engine}_group_{size}_hidden_vs_authenticated"] = _ratio(runs)
    return out


def _ratio(runs: dict[str, dict[str, Any]]) -> float | None:
    """Hidden-sender throughput as a fraction of authenticated posting (issue 11 goal >= 0.8)."""
    a = runs["authenticated"].get("deliveries_per_s")
    h = runs["hidden"].get("deliveries_per_s")
    return round(h / a, 3) if a and h else None
