"""Delivery through one to three ``accord server`` nodes on loopback (issue 23).

``accord bench cluster [--json] [--engines sqlite,postgresql] [--nodes 1,2,3]
[--groups 2,10,100] [--messages N] [--seconds S] [--concurrency C] [--rate R]
[--payload BYTES] [--profile FOLDER]``

The scenario of ``accord bench server`` (bench/server_bench.py: real MLS group,
one WebSocket per member, hidden-sender posts of opaque ciphertexts made before
timing, loads offered by this process to server processes), run against
SQLite on one node and against PostgreSQL on each count of ``--nodes``. The
nodes of a PostgreSQL run share one throwaway database, one NATS
(``ACCORD_TEST_NATS``) and one set of provider keys, as deploy/ runs them
(tests/server/cluster.py starts them); member ``k`` holds its WebSocket on node
``k % nodes`` and poster ``j`` posts to node ``j % nodes``, which is what a
round-robin load balancer in front of them does. The NATS bus is on for every
PostgreSQL run, one node included, so the counts differ only in nodes.

Reported per run: ``messages_per_s`` (messages delivered to every member per
second), ``deliveries_per_s`` (copies pushed per second), ``p50_ms``/``p99_ms``
(from the start of the POST to the last member's receipt), ``delivered``,
``expected`` and ``server_cpu_ms_per_msg`` (all nodes' CPU per message). Bounded by ``--messages`` and ``--seconds`` per run. Not a timed
test: figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.server_bench import add_load_options, load_header, measure
from tests.harness import ServerProcess
from tests.pg import create_database, drop_database
from tests.server.cluster import start_nodes

RATE_LIMIT_SCALE = 10_000  # as bench/server_bench.py: the load is the benchmark's, not abuse


def parse(args: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="accord bench cluster")
    add_load_options(ap)
    ap.add_argument("--nodes", default="1,2,3", help="node counts for PostgreSQL (SQLite: 1)")
    ap.add_argument("--profile", default="",
                    help="folder: run each node under cProfile, one file per run and node")
    return ap.parse_args(args)


async def run_one(engine: str, nodes: int, size: int, opts: argparse.Namespace
                  ) -> dict[str, Any]:
    head = {"engine": engine, "nodes": nodes, "members": size}
    entry_of = _profiled(opts.profile, f"{engine}-{nodes}n-g{size}")
    with tempfile.TemporaryDirectory(prefix="accord-bench-cluster-") as tmp:
        if engine == "sqlite":
            servers = [ServerProcess(Path(tmp), rate_limit_scale=RATE_LIMIT_SCALE,
                                     entry=entry_of(0)).start()]
            try:
                return head | _renamed(await measure(servers, size, opts))
            finally:
                servers[0].stop()
        admin, bus = os.environ.get("ACCORD_TEST_PG", ""), os.environ.get("ACCORD_TEST_NATS", "")
        if not admin or not bus:
            return head | {"skipped": "ACCORD_TEST_PG or ACCORD_TEST_NATS is unset"}
        database, name = await create_database(admin, "accord_bench")
        try:
            servers = await asyncio.to_thread(start_nodes, Path(tmp), database, bus, nodes,
                                              rate_limit_scale=RATE_LIMIT_SCALE,
                                              entry_of=entry_of)
            try:
                return head | _renamed(await measure(servers, size, opts))
            finally:
                for server in servers:
                    server.stop()
        finally:
            await drop_database(admin, name)


def _profiled(folder: str, run: str) -> Callable[[int], tuple[str, ...]]:
    """What node ``i`` runs: ``accord server``, under cProfile when ``folder`` is given (the
    profile is written when the node stops on SIGTERM; read it with ``pstats``)."""
    if not folder:
        return lambda i: ServerProcess.entry
    Path(folder).mkdir(parents=True, exist_ok=True)
    return lambda i: ("-m", "cProfile", "-o", str(Path(folder) / f"{run}-node{i}.prof"),
                      *ServerProcess.entry)


def _renamed(result: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in result.items() if k not in ("posting", "members", "msgs_per_s")}
    return {"messages_per_s": result["msgs_per_s"]} | out


def cli_main(args: list[str]) -> dict[str, Any]:
    opts = parse(args)
    out: dict[str, Any] = load_header(opts) | {"runs": []}
    for engine in opts.engines.split(","):
        counts = [1] if engine == "sqlite" else [int(n) for n in opts.nodes.split(",")]
        for nodes in counts:
            for size in (int(s) for s in opts.groups.split(",")):
                out["runs"].append(asyncio.run(run_one(engine, nodes, size, opts)))
    return out
