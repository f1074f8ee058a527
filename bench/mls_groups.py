"""The group engine at 10 to 10,000 members, side by side with PyPI ``rfc9420``.

``accord bench mls-groups [--json] [--sizes 10,100,1000,10000] [--peer-timeout S]
[--no-peer] [--repeats R]`` (or ``python bench/mls_groups.py ...``).

Per group size N, suite 0x0001, through the public API of
``accord.mls.group`` (and of ``rfc9420`` in the same process, same inputs):

- ``create``: the creator makes a one-member group and commits N-1 Adds in one
  commit, encoding the commit and the Welcome (KeyPackages are made
  beforehand, not timed; ``grease=False`` so both engines read the same
  bytes).
- ``join``: one added member decodes the Welcome and joins (tree decoded and
  fully validated: every leaf signature, parent hashes, tree hash).
- ``update_fresh`` / ``update_filled``: a commit with an UpdatePath by member
  1, created (and encoded) and then processed (decoded) by another member.
  *fresh*: right after creation only the creator's direct path is filled, so
  member 1 must encrypt to about N resolution nodes (RFC 9420 7.6).
  *filled*: after one member of each subtree on member 1's copath has
  committed (log2 N commits, not timed), each copath node is a filled parent
  and the path needs about log2 N ciphertexts: the steady state of a group.
- ``remove_fresh`` / ``remove_filled``: member 1 commits a Remove (a path is
  required, 12.4) of the last member (fresh) or of leaf 3 (filled: a leaf in
  the filled part of the tree); created, then processed by another member.
- ``app``: a 100-byte application message protected by member 1 and
  unprotected by another member.
- ``state_bytes``: the serialized state of a member (``GroupState.to_bytes``;
  rfc9420's ``to_bytes``).

Times are milliseconds: ``*_ms`` wall (best of R runs; one run of create,
join and fresh-tree commit creation at N >= 1000) and ``*_cpu_ms`` CPU time of this process, which
the ratio Accord / rfc9420 uses (the machine is shared; CPU time moves less).
The cyclic garbage collector runs before each timed run, not during it, for
both implementations.
A peer operation is bounded by ``--peer-timeout`` seconds of CPU time
(checked on SIGALRM, main thread); what rfc9420 cannot do is reported as a string
(the reason, or ``timeout after N s (CPU)``), not a number.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib.util
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from accord.mls import group as g
from accord.mls.codec import decode
from accord.mls.structs import Add, Credential, MLSMessage, Remove
from accord.mls.suites import get_suite

NOW = 1_750_000_000
GROUP_ID = b"bench-mls-groups"
PAYLOAD = b"\x42" * 100
SIZES = (10, 100, 1_000, 10_000)
OPS = (
    "create", "join", "update_fresh_create", "update_fresh_process", "remove_fresh_create",
    "remove_fresh_process", "app_protect", "app_unprotect", "update_filled_create",
    "update_filled_process", "remove_filled_create", "remove_filled_process",
)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Collect first, then keep the cyclic collector out of the timed run (as
    timeit does): a full collection over the objects of a few 10,000-member
    states takes about 0.1 s and would land in whichever run it happens to."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def timed(fn: Callable[[], Any], repeats: int = 1, collect: bool = True
          ) -> tuple[float, float, Any]:
    """(best wall ms, best CPU ms, last result) over ``repeats`` runs;
    ``collect=False`` when the caller already holds ``no_gc()``."""
    wall = cpu = math.inf
    out = None
    with no_gc() if collect else contextlib.nullcontext():
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            out = fn()
            wall = min(wall, time.perf_counter() - t)
            cpu = min(cpu, time.process_time() - c)
    return round(wall * 1000, 3), round(cpu * 1000, 3), out


# ``--profile DIR``: each timed Accord operation runs once more under cProfile
# and its statistics go to DIR/n<size>_<operation>.prof (pstats format).
PROFILE: dict[str, Any] = {"dir": None, "prefix": ""}


def record(out: dict[str, Any], name: str, fn: Callable[[], Any], repeats: int = 1) -> Any:
    out[f"{name}_ms"], out[f"{name}_cpu_ms"], result = timed(fn, repeats)
    if PROFILE["dir"] is not None:
        prof = cProfile.Profile()
        prof.runcall(fn)
        prof.dump_stats(str(Path(PROFILE["dir"]) / f"{PROFILE['prefix']}{name}.prof"))
    return result


def key_packages(n: int) -> list[g.KeyPackagePrivate]:
    suite = get_suite(1)
    kps = []
    for i in range(n):
        priv, _ = suite.generate_signature_key_pair()
        kps.append(g.key_package(suite, Credential.basic(b"member-%d" % i), priv, NOW,
                                 grease=False))
    return kps


def copath_committers(n: int) -> list[int]:
    """The leftmost leaf of each subtree on member 1's copath but leaf 0 (the
    creator, whose direct path its first commit filled): 2, 4, 8, ..."""
    return [1 << k for k in range(1, n.bit_length()) if (1 << k) < n]


# --------------------------------------------------------------------------
# Accord


def _commit_and_process(
    sender: g.GroupState, receiver: g.GroupState, repeats: tuple[int, int],
    out: dict[str, Any], name: str, **kw: Any,
) -> int:
    """Create a commit (encoded) on ``sender`` and process it (decoded) on
    ``receiver``, ``repeats`` = (create runs, process runs); both states stay
    as they were (states are values)."""
    def create() -> bytes:
        res, _ = g.commit(sender, now=NOW, **kw)
        return res.commit.to_bytes()  # type: ignore[attr-defined, no-any-return]

    wire = record(out, f"{name}_create", create, repeats[0])
    record(out, f"{name}_process", lambda: g.process(receiver, wire, NOW), repeats[1])
    msg = decode(MLSMessage, wire)
    path = msg.message.content.content.path
    return sum(len(n.encrypted_path_secret) for n in path.nodes) if path else 0


def _app(sender: g.GroupState, receiver: g.GroupState, count: int,
         out: dict[str, Any]) -> tuple[g.GroupState, g.GroupState]:
    """``count`` messages in a row, each state carried on (the steady state of
    an epoch: the sender's ratchet already derived); best time of each side."""
    wires: list[tuple[float, float, bytes]] = []
    with no_gc():  # one collection before the batch, none between messages
        sender, receiver = _app_batch(sender, receiver, count, wires, out)
    return sender, receiver


def _app_batch(sender: g.GroupState, receiver: g.GroupState, count: int,
               wires: list[tuple[float, float, bytes]], out: dict[str, Any],
               ) -> tuple[g.GroupState, g.GroupState]:
    for _ in range(count):
        def protect() -> bytes:
            nonlocal sender
            msg, sender = g.protect(sender, PAYLOAD)
            return msg.to_bytes()  # type: ignore[attr-defined, no-any-return]
        wall, cpu, wire = timed(protect, collect=False)
        wires.append((wall, cpu, wire))
    out["app_protect_ms"] = min(w for w, _, _ in wires[1:])
    out["app_protect_cpu_ms"] = min(c for _, c, _ in wires[1:])
    times = []
    for _, _, wire in wires:
        def unprotect(wire: bytes = wire) -> bytes | None:
            nonlocal receiver
            res, receiver = g.unprotect(receiver, wire, NOW)
            return res.application_data
        wall, cpu, got = timed(unprotect, collect=False)
        assert got == PAYLOAD
        times.append((wall, cpu))
    out["app_unprotect_ms"] = min(w for w, _ in times[1:])
    out["app_unprotect_cpu_ms"] = min(c for _, c in times[1:])
    return sender, receiver


def run_accord(n: int, kps: list[g.KeyPackagePrivate], repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    suite = get_suite(1)
    slow = 1 if n >= 1_000 else repeats

    def create() -> tuple[bytes, bytes, g.GroupState]:
        st = g.create_group(suite, GROUP_ID, kps[0].key_package.leaf_node.credential,
                            kps[0].signature_priv, NOW, key_package=kps[0])
        res, st = g.commit(st, now=NOW, by_value=[Add(k.key_package) for k in kps[1:n]])
        return res.commit.to_bytes(), res.welcome.to_bytes(), g.merge_pending(st)  # type: ignore[union-attr, attr-defined]

    _, welcome, creator = record(out, "create", create, slow)
    out["welcome_bytes"] = len(welcome)

    def join(i: int) -> g.GroupState:
        return g.join_from_welcome(decode(MLSMessage, welcome), kps[i], NOW)

    sender = record(out, "join", lambda: join(1), slow)
    receiver_leaf = n - 2 if n > 3 else 2
    receiver = join(receiver_leaf)
    # A state keeps its tree's key indexes from epoch to epoch; the first
    # commit a new member processes builds the signature-key one (O(N)),
    # timed here once so that the commits below show the steady state.
    out["first_commit_index_ms"] = timed(lambda: receiver.tree.find_signature_key(b""))[0]
    sender.tree.find_signature_key(b"")
    out["state_bytes"] = len(sender.to_bytes())
    out["update_fresh_ciphertexts"] = _commit_and_process(
        sender, receiver, (slow, repeats), out, "update_fresh", force_path=True)
    out["remove_fresh_ciphertexts"] = _commit_and_process(
        sender, receiver, (slow, repeats), out, "remove_fresh", by_value=[Remove(n - 1)])

    sender, receiver = _app(sender, receiver, max(repeats, 20), out)

    # Fill member 1's copath: one commit with a path from a member of each
    # copath subtree, every held state processing it (not timed).
    t = time.perf_counter()
    states = {1: sender, receiver_leaf: receiver}
    for leaf in copath_committers(n):
        if leaf not in states:
            states[leaf] = join(leaf)
    for leaf in copath_committers(n):
        res, st = g.commit(states[leaf], now=NOW, force_path=True)
        wire = res.commit.to_bytes()  # type: ignore[attr-defined]
        for other in states:
            states[other] = g.merge_pending(st) if other == leaf else g.process(
                states[other], wire, NOW)[1]
    out["fill_setup_s"] = round(time.perf_counter() - t, 1)
    sender, receiver = states[1], states[receiver_leaf]
    out["update_filled_ciphertexts"] = _commit_and_process(
        sender, receiver, (repeats, repeats), out, "update_filled", force_path=True)
    # Leaf 3 lies where the tree is filled; removing a leaf in the part that
    # no commit has touched yet (such as the last one) would blank the one
    # filled parent above it and expose hundreds of leaves again.
    out["remove_filled_ciphertexts"] = _commit_and_process(
        sender, receiver, (repeats, repeats), out, "remove_filled", by_value=[Remove(3)])
    out["state_filled_bytes"] = len(sender.to_bytes())
    return out


# --------------------------------------------------------------------------
# Side by side


def _load_peer() -> Any:
    path = Path(__file__).with_name("_mls_groups_rfc9420.py")
    spec = importlib.util.spec_from_file_location("accord_bench_mls_groups_rfc9420", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def ratios(accord: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """Accord / rfc9420 per operation, on CPU time; the reason where none."""
    out: dict[str, Any] = {}
    for op in OPS:
        a, p = accord.get(f"{op}_cpu_ms"), peer.get(f"{op}_cpu_ms")
        if isinstance(a, (int, float)) and isinstance(p, (int, float)) and p > 0:
            out[op] = round(a / p, 4)
        elif op in peer.get("unavailable", {}):
            out[op] = peer["unavailable"][op]
    a, p = accord.get("state_bytes"), peer.get("state_bytes")
    if isinstance(a, int) and isinstance(p, int) and p:
        out["state_bytes"] = round(a / p, 3)
    return out


def run(sizes: tuple[int, ...], repeats: int, peer_timeout: float,
        with_peer: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"suite": 1, "repeats": repeats, "peer_timeout_s": peer_timeout}
    peer = _load_peer() if with_peer else None
    if peer is not None:
        result["peer"] = peer.version()
    given_up: str | None = None
    # Warm-up, not reported: the first run of each engine in a process pays
    # one-time costs (generated codecs, imports, caches) that the smallest
    # size would otherwise carry.
    warm = key_packages(4)
    run_accord(4, warm, 1)
    if peer is not None:
        peer.run(4, warm, 1, peer_timeout, PAYLOAD)
    for n in sizes:
        t = time.perf_counter()
        kps = key_packages(n)
        PROFILE["prefix"] = f"n{n}_"
        entry: dict[str, Any] = {"members": n,
                                 "key_packages_s": round(time.perf_counter() - t, 1)}
        t = time.perf_counter()
        entry["accord"] = run_accord(n, kps, repeats)
        entry["accord_total_s"] = round(time.perf_counter() - t, 1)
        if peer is not None:
            t = time.perf_counter()
            if given_up is None:
                entry["rfc9420"] = peer.run(n, kps, repeats, peer_timeout, PAYLOAD)
            else:
                entry["rfc9420"] = {"skipped": given_up}
            entry["rfc9420_total_s"] = round(time.perf_counter() - t, 1)
            if "timeout" in str(entry["rfc9420"].get("unavailable", {}).get("create", "")):
                given_up = f"rfc9420 create timed out at {n} members"
            entry["ratio_accord_over_rfc9420"] = ratios(entry["accord"], entry["rfc9420"])
        result[f"n{n}"] = entry
    return result


def cli_main(args: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="accord bench mls-groups")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--repeats", type=int, default=3, help="runs of the fast operations")
    p.add_argument("--peer-timeout", type=float, default=60.0,
                   help="CPU seconds one rfc9420 operation may take before it is abandoned")
    p.add_argument("--no-peer", action="store_true", help="Accord alone")
    p.add_argument("--profile", metavar="DIR",
                   help="also run each Accord operation under cProfile, stats to DIR")
    a = p.parse_args(args)
    if a.profile:
        Path(a.profile).mkdir(parents=True, exist_ok=True)
        PROFILE["dir"] = a.profile
    sizes = tuple(int(s) for s in a.sizes.split(",") if s)
    if any(s < 4 for s in sizes):
        p.error("sizes must be at least 4")
    return run(sizes, a.repeats, a.peer_timeout, not a.no_peer)


if __name__ == "__main__":
    import json

    print(json.dumps(cli_main(sys.argv[1:]), indent=1))
