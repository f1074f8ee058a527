"""MLS primitive costs per cipher suite, and what framing adds on top of them.

``accord bench mls-primitives [--json] [--suites 1,2] [--iterations N]``

Two parts per suite:

- ``primitives(suite_id)``: the cost of single calls (ExpandWithLabel,
  SignWithLabel, VerifyWithLabel, HPKE seal/open).
- ``framing(suite_id)``: protect + unprotect of a 100-byte application
  PrivateMessage (RFC 9420 6.3), in the steady state of an epoch (both
  secret trees already hold the sender's ratchets). The path runs once
  through a recording proxy of the cipher suite, which yields the exact list
  of primitive calls it makes (sign, verify, AEAD, ExpandWithLabel,
  DeriveTreeSecret, MAC, hash) with their real arguments; each recorded call
  is then replayed alone and timed. ``overhead_ratio`` is the path's time
  over the sum of those replayed calls: 1.0 would mean framing costs nothing
  beyond its cryptography. Goal: <= 2.0.

Times are the best of several batches (``time.perf_counter``), in
microseconds. Nothing here is a timed assertion.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from accord.mls import framing
from accord.mls.secret_tree import SecretTree
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.messages import FramedContent, Sender
from accord.mls.suites import CipherSuite, get_suite

RFC_SUITES = tuple(range(1, 8))
PAYLOAD = 100  # bytes of application data
REPEATS = 7


def _best_us(fn: Callable[[], object], iterations: int) -> float:
    """Best mean time of one call over REPEATS batches, in microseconds."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(iterations):
            fn()
        best = min(best, (time.perf_counter() - start) / iterations)
    return best * 1e6


# --------------------------------------------------------------------------
# Single primitives


def primitives(suite_id: int, iterations: int = 200) -> dict[str, float]:
    """Microseconds per call of the suite's basic operations."""
    suite = get_suite(suite_id)
    secret = bytes(suite.hash_len)
    priv, pub = suite.generate_signature_key_pair()
    msg = bytes(200)
    sig = suite.sign_with_label(priv, "FramedContentTBS", msg)
    hpke_priv, hpke_pub = suite.generate_hpke_key_pair()
    kem_output, ct = suite.encrypt_with_label(hpke_pub, "UpdatePathNode", b"ctx", bytes(32))
    n = max(10, iterations // 4)
    return {
        "expand_with_label_us": _best_us(
            lambda: suite.expand_with_label(secret, "key", b"ctx", suite.aead_key_len), iterations
        ),
        "sign_us": _best_us(lambda: suite.sign_with_label(priv, "FramedContentTBS", msg), n),
        "verify_us": _best_us(
            lambda: suite.verify_with_label(pub, "FramedContentTBS", msg, sig), n
        ),
        "hpke_seal_us": _best_us(
            lambda: suite.encrypt_with_label(hpke_pub, "UpdatePathNode", b"ctx", bytes(32)), n
        ),
        "hpke_open_us": _best_us(
            lambda: suite.decrypt_with_label(hpke_priv, "UpdatePathNode", b"ctx", kem_output, ct),
            n,
        ),
    }


# --------------------------------------------------------------------------
# Framing: protect + unprotect of one application PrivateMessage


class RecordingSuite:
    """Forwards to a CipherSuite and records every method call with its arguments."""

    def __init__(self, suite: CipherSuite) -> None:
        self._suite = suite
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._suite, name)
        if not callable(value):
            return value

        def record(*args: Any) -> Any:
            self.calls.append((name, args))
            return value(*args)

        return record


class _Setup:
    """One epoch with warmed secret trees: the next message is a plain ratchet step."""

    def __init__(self, suite: Any) -> None:
        nh = suite.hash_len
        self.suite = suite
        self.context = GroupContext(1, suite.id, b"g" * 16, 42, bytes(nh), bytes(nh), ())
        self.priv, self.pub = suite.generate_signature_key_pair()
        self.sds = bytes([1]) * nh
        self.content = FramedContent(b"g" * 16, 42, Sender.member(1), b"", bytes(PAYLOAD))
        tree = SecretTree.create(suite, bytes([2]) * nh, 8)
        first, self.sender_tree = self.protect(tree)
        _, self.receiver_tree = self.unprotect(tree, first)

    def protect(self, tree: SecretTree) -> Any:
        return framing.protect_private(
            self.suite, tree, self.sds, self.content, self.priv, self.context
        )

    def unprotect(self, tree: SecretTree, message: Any) -> Any:
        return framing.unprotect_private(
            self.suite, tree, self.sds, message, self.pub, self.context, range(8)
        )

    def round_trip(self) -> None:
        message, _ = self.protect(self.sender_tree)
        self.unprotect(self.receiver_tree, message)


def _interleaved_best_us(
    timers: dict[str, Callable[[], object]], iterations: int
) -> dict[str, float]:
    """Best mean time per call of each timer, in microseconds.

    The batches of all timers alternate, so a burst of load from another
    process slows the path and its primitives alike instead of skewing the
    ratio between them.
    """
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(REPEATS):
        for name, fn in timers.items():
            start = time.perf_counter()
            for _ in range(iterations):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / iterations)
    return {name: t * 1e6 for name, t in best.items()}


def _replay(suite: CipherSuite, name: str, args: tuple[Any, ...]) -> Callable[[], object]:
    method = getattr(suite, name)
    return lambda: method(*args)


def framing_costs(suite_id: int, iterations: int = 200) -> dict[str, Any]:
    """The protect + unprotect path against the primitives it calls."""
    suite = get_suite(suite_id)
    setup = _Setup(suite)
    message, _ = setup.protect(setup.sender_tree)

    recorder = RecordingSuite(suite)
    recorded = _Setup(recorder)  # trees hold the recorder, so their calls count too
    recorder.calls.clear()
    recorded.round_trip()
    calls = list(recorder.calls)

    timers: dict[str, Callable[[], object]] = {
        "protect": lambda: setup.protect(setup.sender_tree),
        "unprotect": lambda: setup.unprotect(setup.receiver_tree, message),
    }
    for i, (name, args) in enumerate(calls):
        timers[f"call{i}"] = _replay(suite, name, args)
    best = _interleaved_best_us(timers, iterations)
    primitive_us = sum(best[f"call{i}"] for i in range(len(calls)))
    path_us = best["protect"] + best["unprotect"]
    return {
        "payload_bytes": PAYLOAD,
        "protect_us": round(best["protect"], 1),
        "unprotect_us": round(best["unprotect"], 1),
        "primitive_calls": dict(Counter(name for name, _ in calls)),
        "primitive_sum_us": round(primitive_us, 1),
        "overhead_ratio": round(path_us / primitive_us, 3),
    }


# --------------------------------------------------------------------------


def cli_main(args: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="accord bench mls-primitives")
    parser.add_argument("--suites", default=",".join(map(str, RFC_SUITES)))
    parser.add_argument("--iterations", type=int, default=200)
    opts = parser.parse_args(args)
    result: dict[str, Any] = {"iterations": opts.iterations, "suites": {}}
    for suite_id in (int(s, 0) for s in opts.suites.split(",")):
        row: dict[str, Any] = {
            k: round(v, 1) for k, v in primitives(suite_id, opts.iterations).items()
        }
        row["private_message_100b"] = framing_costs(suite_id, opts.iterations)
        result["suites"][f"0x{suite_id:04x}"] = row
    ratios = [r["private_message_100b"]["overhead_ratio"] for r in result["suites"].values()]
    result["max_overhead_ratio"] = max(ratios)
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(cli_main(sys.argv[1:]), indent=2))
