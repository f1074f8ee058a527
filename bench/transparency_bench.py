"""Key transparency benchmark (issue 7): ``accord bench transparency [--json]``.

At each log size: the rate of single appends to a log already that large
(``appends_per_s``; the tree is first built in bulk so that a run stays
short), the inclusion proof size (``proof_bytes``, the largest of the
sampled proofs), the client's inclusion-proof verification time
(``verify_ms``, median), and the same for consistency proofs from half the
size. The key directory (log + prefix map + entry encoding: a real
``publish``) is measured at sizes up to ``--directory-max`` with its
lookup proof size and the client's full ``verify_lookup`` time.

Goals (issue 7): verification <= 1 ms and >= 10,000 appends/s at 10^6.
Not a timed test; figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
from typing import Any

from accord.mls.codec import encode
from accord.transparency import (
    KeyDirectory,
    LookupProof,
    MerkleLog,
    verify_consistency,
    verify_inclusion,
    verify_lookup,
)

SAMPLES = 1000


def _median_ms(samples_ns: list[int]) -> float:
    return round(statistics.median(samples_ns) / 1e6, 4)


def _bulk_log(n: int) -> tuple[MerkleLog, float]:
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    log = MerkleLog()
    t0 = time.perf_counter()
    log.extend_hashes(leaves)
    return log, time.perf_counter() - t0


def _single_appends(log: MerkleLog, budget_s: float = 1.0, cap: int = 200_000) -> float:
    entry = bytes(120)  # about one encoded entry with two device keys
    done, t0 = 0, time.perf_counter()
    while done < cap:
        for _ in range(1000):
            log.append(entry)
        done += 1000
        if time.perf_counter() - t0 > budget_s:
            break
    return done / (time.perf_counter() - t0)


def _inclusion(log: MerkleLog, n: int, rnd: random.Random) -> dict[str, Any]:
    root, times, sizes = log.root(n), [], []
    for _ in range(SAMPLES):
        i = rnd.randrange(n)
        path = log.inclusion_proof(i, n)
        leaf = log.store.get_node(0, i)
        t0 = time.perf_counter_ns()
        verify_inclusion(i, n, leaf, path, root)
        times.append(time.perf_counter_ns() - t0)
        sizes.append(32 * len(path))
    return {"proof_bytes": max(sizes), "verify_ms": _median_ms(times)}


def _consistency(log: MerkleLog, n: int, rnd: random.Random) -> dict[str, Any]:
    times, sizes = [], []
    for _ in range(SAMPLES // 10):
        m = rnd.randrange(n // 2, n)
        proof = log.consistency_proof(m, n)
        r1, r2 = log.root(m), log.root(n)
        t0 = time.perf_counter_ns()
        verify_consistency(m, n, r1, r2, proof)
        times.append(time.perf_counter_ns() - t0)
        sizes.append(32 * len(proof))
    return {"consistency_proof_bytes": max(sizes), "consistency_verify_ms": _median_ms(times)}


def _directory(n: int, rnd: random.Random) -> dict[str, Any]:
    d = KeyDirectory("bench.example", bytes(32))
    keys = [bytes([1]) * 32, bytes([2]) * 32]
    t0 = time.perf_counter()
    for i in range(n):
        d.publish(f"user{i}@bench.example", keys, now=i)
    rate = n / (time.perf_counter() - t0)
    head = d.head(n)
    times, sizes = [], []
    for _ in range(SAMPLES // 4):
        name = f"user{rnd.randrange(n)}@bench.example"
        proof = d.lookup(name)
        t1 = time.perf_counter_ns()
        verify_lookup(head, name, proof)
        times.append(time.perf_counter_ns() - t1)
        sizes.append(len(encode(LookupProof, proof)))
    return {
        "directory_publish_per_s": round(rate),
        "lookup_proof_bytes": max(sizes),
        "lookup_verify_ms": _median_ms(times),
    }


def run(
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), directory_max: int = 1_000_000
) -> dict[str, Any]:
    rnd = random.Random(7)
    results: dict[str, Any] = {}
    for n in sizes:
        log, bulk_s = _bulk_log(n)
        row: dict[str, Any] = {"bulk_build_per_s": round(n / bulk_s)}
        row.update(_inclusion(log, n, rnd))
        row.update(_consistency(log, n, rnd))
        row["appends_per_s"] = round(_single_appends(log))
        if n <= directory_max:
            row.update(_directory(n, rnd))
        results[str(n)] = row
        del log
    return {"sizes": results}


def cli_main(args: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="accord bench transparency")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--directory-max", type=int, default=1_000_000)
    ns = parser.parse_args(args)
    sizes = tuple(int(s) for s in ns.sizes.split(","))
    return run(sizes, ns.directory_max)


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(cli_main(sys.argv[1:]), indent=2))
