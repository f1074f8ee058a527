"""Cross-provider delivery between two real providers on loopback.

``accord bench federation [--json] [--receivers 1,10] [--messages N] [--seconds S]
[--concurrency C] [--payload BYTES] [--engine sqlite|postgresql]``

Two ``accord server`` processes, alpha.test (the hub) and beta.test (a
follower), know each other through ``--peer``. alice@alpha.test creates a
group with a real MLS commit that adds R devices of beta.test, whose
KeyPackages she claims through her own provider (signed provider-to-provider
requests). Each beta device listens on its WebSocket. Two directions:

- ``hub_to_follower``: hidden-sender posts to alpha; alpha fans them out
  through its outbound queue to beta, which files them for its devices.
- ``follower_to_hub``: the same posts sent to beta, which forwards each one to
  alpha (the hub orders it) and gets it back in alpha's fan-out.

A message counts as delivered when every beta device has it on its socket;
latency runs from the start of the POST to the last receipt. Reported:
``deliveries_per_s`` (copies pushed per second), ``msgs_per_s``,
``p50_ms``/``p99_ms``, ``delivered``/``expected``. Every loop is bounded by
the message count and ``--seconds``. Not a timed test: figures go to
docs/PERFORMANCE.md.
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

from accord.federation.loopback import Provider, federation
from accord.wire import decode, encode
from accord.wire import messages as m


def parse(args: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="accord bench federation")
    ap.add_argument("--receivers", default="1,10", help="beta devices in the group")
    ap.add_argument("--messages", type=int, default=400, help="posts per run (bounded)")
    ap.add_argument("--seconds", type=float, default=60.0, help="time limit per run")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--payload", type=int, default=1024)
    ap.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    return ap.parse_args(args)


async def _group(alpha: httpx.AsyncClient, beta: httpx.AsyncClient, n: int
                 ) -> tuple[list[SimDevice], bytes, Ed25519PrivateKey]:
    tag = secrets.token_hex(3)
    alice = await SimDevice(alpha, f"alice{tag}@alpha.test").register()
    bobs = [await SimDevice(beta, f"b{i}x{tag}@beta.test").register() for i in range(n)]
    for b in bobs:
        await b.call("POST", "/v1/keypackages",
                     m.UploadKeyPackagesRequest(key_packages=[mls_key_package(b)]), expect=200)
    gid, pk0, pk1 = secrets.token_bytes(32), Ed25519PrivateKey.generate(), \
        Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk0))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    claimed = []
    for b in bobs:
        r = await alice.call("POST", f"/v1/accounts/{b.account}/keypackages/claim", expect=200)
        claimed += decode(m.ClaimResponse, r.json()).key_packages
    commit, welcome, _ = mls_commit(mls_state,
                                    add=[c.key_package for c in claimed])
    await alice.call("POST", group_path(gid, "/commits"), m.CommitRequest(
        epoch=0, commit=commit, posting_key=posting_public(pk1),
        added=[c.device_id for c in claimed], welcome=welcome), expect=201)
    deadline = time.monotonic() + 30
    for b in bobs:  # the Welcome crossed over: beta knows the group
        while not (await b.fetch()).items:
            if time.monotonic() > deadline:
                raise RuntimeError("the Welcome did not reach beta in 30 s")
            await asyncio.sleep(0.05)
    return bobs, gid, pk1


async def _post_all(url: str, gid: bytes, pk: Ed25519PrivateKey, tally: DeliveryTally,
                    opts: argparse.Namespace, deadline: float) -> int:
    """Post; the tally keys on the body (msg ids differ between hub and follower)."""
    from accord.wire import b64e

    todo = iter(range(opts.messages))
    sent = 0

    async def poster(http: httpx.AsyncClient) -> None:
        nonlocal sent
        for _ in todo:
            if time.perf_counter() > deadline:
                return
            body = secrets.token_bytes(opts.payload)
            post = application_post(pk, gid, 1, body)
            start = time.perf_counter()
            r = await http.post(group_path(gid, "/messages"), json=encode(post))
            if r.status_code == 201:
                tally.started[b64e(post.ciphertext)] = start
                sent += 1

    limits = httpx.Limits(max_connections=opts.concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as http:
        await asyncio.gather(*(poster(http) for _ in range(opts.concurrency)))
    return sent


async def _measure(alpha: Provider, beta: Provider, n: int, direction: str,
                   opts: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=alpha.url, timeout=30) as a, \
            httpx.AsyncClient(base_url=beta.url, timeout=30) as b:
        bobs, gid, pk = await _group(a, b, n)
    tally, stop = DeliveryTally(n), asyncio.Event()
    ws_url = beta.url.replace("http://", "ws://") + "/v1/ws"
    readies = [asyncio.Event() for _ in bobs]
    listeners = [asyncio.create_task(listen_for_deliveries(ws_url, d.token, tally, r, stop, lambda item: item["body"]))
                 for d, r in zip(bobs, readies, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    t0 = time.perf_counter()
    deadline = t0 + opts.seconds
    target = alpha.url if direction == "hub_to_follower" else beta.url
    tally.expected = await _post_all(target, gid, pk, tally, opts, deadline)
    if len(tally.done) < tally.expected:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.all_done.wait(), max(1.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - t0
    stop.set()
    await asyncio.gather(*listeners, return_exceptions=True)
    lat = tally.latencies_ms()
    return {
        "receivers": n,
        "expected": tally.expected,
        "delivered": len(lat),
        "msgs_per_s": round(len(lat) / elapsed, 1),
        "deliveries_per_s": round(tally.deliveries / elapsed, 1),
        "p50_ms": round(statistics.median(lat), 2) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else None,
        "elapsed_s": round(elapsed, 2),
    }


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    admin = os.environ.get("ACCORD_TEST_PG", "")
    if opts.engine == "postgresql" and not admin:
        return {"skipped": "ACCORD_TEST_PG is unset"}
    with tempfile.TemporaryDirectory(prefix="accord-bench-fed-") as tmp:
        alpha, beta = federation(Path(tmp), ["alpha.test", "beta.test"], scale=10_000)
        names: list[str] = []
        try:
            for p in (alpha, beta):
                if opts.engine == "postgresql":
                    p.database, name = await create_database(admin, "accord_bench_fed")
                    names.append(name)
                p.start()
            for n in (int(x) for x in opts.receivers.split(",")):
                for direction in ("hub_to_follower", "follower_to_hub"):
                    out[f"{direction}_{n}"] = await _measure(alpha, beta, n, direction, opts)
        finally:
            alpha.stop()
            beta.stop()
            for name in names:
                await drop_database(admin, name)
    return out


def cli_main(args: list[str]) -> dict[str, Any]:
    opts = parse(args)
    result: dict[str, Any] = {"engine": opts.engine, "payload_bytes": opts.payload,
                              "messages_per_run": opts.messages,
                              "concurrency": opts.concurrency}
    result.update(asyncio.run(run(opts)))
    return result
