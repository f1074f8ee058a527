"""Accord and ts-mls on the same MLS group operations, in one run (issue 10).

``accord bench mls-peers [--json] [--sizes 10,100,1000] [--repeats R]
[--repeats-large R] [--app-messages M] [--budget S]`` (or
``python bench/mls_peers.py ...``).

Per group size N, suite 0x0001, each implementation through its own public
API: Accord in this process (``accord.mls.group``), ts-mls 1.6.4 in Node
(``tests/interop/tsmls/bench.mjs``, its own API, not the gRPC peer; one Node
process per size, started after the Accord side of that size is done):

- ``create``: a one-member group, then one commit adding N-1 members (Adds
  by value), encoding the commit and the Welcome. KeyPackages are made
  beforehand, not timed (each implementation makes its own).
- ``join``: member 1 decodes the Welcome and joins. The ratchet tree travels
  *in the Welcome* (the GroupInfo's ratchet_tree extension) for both.
- ``update_create`` / ``update_process``: member 1 creates (and encodes) a
  commit with no proposals and an UpdatePath; member N-2 decodes and
  processes it. Right after creation only the creator's direct path is
  filled, so the path secrets go to about N-1 leaves (RFC 9420 7.6) for both.
- ``app_protect`` / ``app_unprotect``: a 100-byte application message
  protected by member 1 and unprotected by member N-2, M messages in a row
  (each state carried on).

Handshake messages are PublicMessages on both sides. Times are wall
milliseconds measured inside each runtime (``time.perf_counter`` here,
``performance.now()`` in Node; process start-up, imports and key package
generation are outside them), the median of R runs (``--repeats`` below
1,000 members, ``--repeats-large`` from 1,000) and of M application
messages. Each side warms up on a 4-member group first (not reported). The
cyclic garbage collector runs before each timed Accord handshake run (before
the batch of application messages) and stays enabled during them (Node's
collector is never held back either).

Every size and side is bounded by ``--budget`` seconds: no repetition starts
after it; an Accord operation still running at the budget (SIGALRM) and a
Node process still running at budget + its key-package allowance are
stopped and reported as ``timeout after ... s`` instead of a figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.mls_groups import key_packages  # the same members as there

from accord.mls import group as g
from accord.mls.codec import decode
from accord.mls.structs import Add, MLSMessage
from accord.mls.suites import get_suite

NOW = 1_750_000_000
GROUP_ID = b"bench-mls-peers"
PAYLOAD = b"\x42" * 100
SIZES = (10, 100, 1_000)
OPS = ("create", "join", "update_create", "update_process", "app_protect", "app_unprotect")
TSMLS_DIR = Path(__file__).resolve().parents[1] / "tests" / "interop" / "tsmls"
TSMLS_SCRIPT = TSMLS_DIR / "bench.mjs"
# Node start-up, the warm-up and key packages (about 1.3 ms each in ts-mls)
# come before the budget starts: the process gets this on top of it.
TSMLS_ALLOWANCE_S = 30.0
TREE_NOTE = "in the Welcome (GroupInfo ratchet_tree extension), both sides"


class BudgetExceeded(Exception):
    pass


@contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise BudgetExceeded in the main thread after ``seconds`` (no-op off
    the main thread, without SIGALRM or when a real-time timer is already
    set: repetitions are still bounded by the deadline)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    # Someone else's timer (a test runner's timeout) is left alone.
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise BudgetExceeded

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def timed(out: dict[str, Any], name: str, runs: int, deadline: float,
          fn: Callable[[int], Any], collect_each: bool = True) -> Any:
    """Run ``fn`` up to ``runs`` times (at least once) while the deadline
    allows; ``<name>_ms`` is the median, ``<name>_runs_ms`` every run.
    ``collect_each=False`` (sub-millisecond operations): one collection
    before the batch, as a full collection before each run would leave the
    caches cold and triple the time of a 50 us operation."""
    times: list[float] = []
    result = None
    gc.collect()
    for i in range(runs):
        if i > 0 and time.perf_counter() > deadline:
            break
        if collect_each:
            gc.collect()
        t = time.perf_counter()
        result = fn(i)
        times.append((time.perf_counter() - t) * 1000)
    out[f"{name}_ms"] = round(statistics.median(times), 3)
    out[f"{name}_runs_ms"] = [round(x, 3) for x in times]
    return result


# --------------------------------------------------------------------------
# Accord


def run_accord(n: int, repeats: int, app_messages: int, budget_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"members": n}
    t = time.perf_counter()
    kps = key_packages(n)
    out["key_packages_s"] = round(time.perf_counter() - t, 3)
    suite = get_suite(1)
    deadline = time.perf_counter() + budget_s
    try:
        with alarm(budget_s):
            _accord_ops(out, n, kps, suite, repeats, app_messages, deadline)
    except BudgetExceeded:
        for op in OPS:
            out.setdefault(f"{op}_ms", f"timeout after {budget_s:g} s")
    out["budget_exceeded"] = time.perf_counter() > deadline
    return out


def _accord_ops(out: dict[str, Any], n: int, kps: list[g.KeyPackagePrivate], suite: Any,
                repeats: int, app_messages: int, deadline: float) -> None:
    def create(_: int) -> tuple[bytes, bytes, g.GroupState]:
        st = g.create_group(suite, GROUP_ID, kps[0].key_package.leaf_node.credential,
                            kps[0].signature_priv, NOW, key_package=kps[0])
        res, st = g.commit(st, now=NOW, by_value=[Add(k.key_package) for k in kps[1:n]])
        return (res.commit.to_bytes(), res.welcome.to_bytes(),  # type: ignore[union-attr, attr-defined]
                g.merge_pending(st))

    commit, welcome, _ = timed(out, "create", repeats, deadline, create)
    out["commit_bytes"] = len(commit)
    out["welcome_bytes"] = len(welcome)

    def join(i: int) -> g.GroupState:
        return g.join_from_welcome(decode(MLSMessage, welcome), kps[i], NOW)

    sender = timed(out, "join", repeats, deadline, lambda _: join(1))
    receiver = join(n - 2)

    def update(_: int) -> bytes:
        res, _st = g.commit(sender, now=NOW, force_path=True)
        return res.commit.to_bytes()  # type: ignore[attr-defined, no-any-return]

    wire = timed(out, "update_create", repeats, deadline, update)
    out["update_commit_bytes"] = len(wire)
    processed = timed(out, "update_process", repeats, deadline,
                      lambda _: g.process(receiver, wire, NOW)[1])
    out["update_epoch_agrees"] = processed.epoch == sender.epoch + 1

    wires: list[bytes] = []

    def protect(_: int) -> bytes:
        nonlocal sender
        msg, sender = g.protect(sender, PAYLOAD)
        w: bytes = msg.to_bytes()  # type: ignore[attr-defined]
        wires.append(w)
        return w

    timed(out, "app_protect", app_messages, deadline, protect, collect_each=False)

    def unprotect(i: int) -> bytes | None:
        nonlocal receiver
        res, receiver = g.unprotect(receiver, wires[i], NOW)
        assert res.application_data == PAYLOAD
        return res.application_data

    timed(out, "app_unprotect", len(wires), float("inf"), unprotect, collect_each=False)
    out["app_message_bytes"] = len(wires[0])


# --------------------------------------------------------------------------
# ts-mls


def tsmls_missing() -> str | None:
    """Why the ts-mls side cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (TSMLS_DIR / "node_modules" / "ts-mls" / "package.json").is_file():
        return f"ts-mls is not installed (cd {TSMLS_DIR} && npm ci)"
    return None


def run_tsmls(n: int, repeats: int, app_messages: int, budget_s: float) -> dict[str, Any]:
    limit = budget_s + TSMLS_ALLOWANCE_S + n * 0.01
    cmd = ["node", str(TSMLS_SCRIPT), "--size", str(n), "--repeats", str(repeats),
           "--app-messages", str(app_messages), "--budget-ms", str(int(budget_s * 1000))]
    try:
        proc = subprocess.run(cmd, cwd=TSMLS_DIR, capture_output=True, text=True,
                              timeout=limit, check=False)
    except subprocess.TimeoutExpired:  # run() has killed and reaped the child
        return {op + "_ms": f"timeout after {limit:g} s" for op in OPS} | {"members": n}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {op + "_ms": "failed: " + " | ".join(tail) for op in OPS} | {"members": n}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------
# Side by side


def rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    a, p = entry["accord"], entry.get("tsmls", {})
    for op in OPS:
        am, pm = a.get(f"{op}_ms"), p.get(f"{op}_ms")
        row: dict[str, Any] = {"operation": op, "members": entry["members"],
                               "accord_ms": am, "tsmls_ms": pm, "ratio": None}
        if isinstance(am, (int, float)) and isinstance(pm, (int, float)) and pm > 0:
            row["ratio"] = round(am / pm, 4)
        out.append(row)
    return out


def goals(table: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 10: Accord at or below ts-mls on every operation at N >= 100."""
    out: dict[str, Any] = {}
    for op in OPS:
        ratios = [r["ratio"] for r in table if r["operation"] == op and r["members"] >= 100]
        if not ratios:
            out[op] = "not measured at N >= 100"
        elif any(x is None for x in ratios):
            out[op] = "not met: a side did not finish"
        else:
            out[op] = "met" if max(ratios) <= 1.0 else f"not met (max ratio {max(ratios)})"
    return out


def run(sizes: tuple[int, ...], repeats: int, repeats_large: int, app_messages: int,
        budget_s: float, with_peer: bool) -> dict[str, Any]:
    missing = tsmls_missing() if with_peer else "disabled (--no-peer)"
    result: dict[str, Any] = {
        "suite": 1,
        "ratchet_tree": TREE_NOTE,
        "handshake_wire_format": "PublicMessage",
        "statistic": "median wall ms, measured inside each runtime",
        "repeats": {"below_1000": repeats, "from_1000": repeats_large,
                    "app_messages": app_messages},
        "budget_s": budget_s,
        "python": sys.version.split()[0],
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "tsmls": "ts-mls 1.6.4 (Node)" if missing is None else f"unavailable: {missing}",
    }
    run_accord(4, 2, 4, 30.0)  # warm-up, not reported
    table: list[dict[str, Any]] = []
    for n in sizes:
        r = repeats_large if n >= 1_000 else repeats
        entry: dict[str, Any] = {"members": n}
        t = time.perf_counter()
        entry["accord"] = run_accord(n, r, app_messages, budget_s)
        entry["accord_total_s"] = round(time.perf_counter() - t, 1)
        if missing is None:
            t = time.perf_counter()
            entry["tsmls"] = run_tsmls(n, r, app_messages, budget_s)
            entry["tsmls_total_s"] = round(time.perf_counter() - t, 1)
            result.setdefault("node", entry["tsmls"].get("node"))
        table.extend(rows(entry))
        result[f"n{n}"] = entry
    if hasattr(os, "getloadavg"):
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["table"] = table
    if missing is None:
        result["goals_n_ge_100"] = goals(table)
    return result


def cli_main(args: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="accord bench mls-peers")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--repeats", type=int, default=5, help="runs per operation below 1,000 members")
    p.add_argument("--repeats-large", type=int, default=3, help="runs per operation from 1,000")
    p.add_argument("--app-messages", type=int, default=20)
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds per size and implementation")
    p.add_argument("--no-peer", action="store_true", help="Accord alone")
    a = p.parse_args(args)
    sizes = tuple(int(s) for s in a.sizes.split(",") if s)
    if not sizes or any(s < 4 or s > 100_000 for s in sizes):
        p.error("sizes must be 4..100000")
    for name in ("repeats", "repeats_large", "app_messages"):
        if not 1 <= getattr(a, name) <= 1000:
            p.error(f"--{name.replace('_', '-')} must be 1..1000")
    if a.budget <= 0:
        p.error("--budget must be positive")
    return run(sizes, a.repeats, a.repeats_large, a.app_messages, a.budget, not a.no_peer)


if __name__ == "__main__":
    print(json.dumps(cli_main(sys.argv[1:]), indent=1))
