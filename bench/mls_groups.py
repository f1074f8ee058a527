"""The group engine end to end: ``accord bench mls-groups [--json] [--sizes 10,100,1000]``.

For each group size N (suite 1 by default), through ``accord.mls.group``:

- ``create_ms``: creating the group and adding N-1 members in one commit
  (KeyPackage validation, TreeKEM path, one Welcome for all), merged;
- ``join_ms``: one new member joining from that Welcome (full tree validation);
- ``update_create_ms`` / ``update_process_ms``: a commit with an UpdatePath by
  the creator, and its processing by another member. The tree is freshly
  built, so only the creator's direct path is filled and the path is
  encrypted to about N-1 leaves (RFC 9420 7.6); ``bench mls-tree`` shows the
  steady state where it is about log2(N) nodes;
- ``remove_create_ms`` / ``remove_process_ms``: removing one member;
- ``message_ms``: a 100-byte application message protected and unprotected;
- ``state_bytes``: the serialized state of a member (``GroupState.to_bytes``).

KeyPackages are made before the clock starts. Times are wall-clock
milliseconds of one run each. A comparison with the PyPI ``rfc9420`` package
is not part of this script.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from accord.mls import group as g
from accord.mls.structs import Add, Credential, Remove
from accord.mls.suites import get_suite

NOW = 1_750_000_000


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def run_size(n: int, suite_id: int) -> dict[str, Any]:
    suite = get_suite(suite_id)

    def ident(i: int) -> tuple[Credential, bytes]:
        return Credential.basic(b"member-%d" % i), suite.generate_signature_key_pair()[0]

    kps = [g.key_package(suite, *ident(i), NOW) for i in range(1, n)]
    out: dict[str, Any] = {}
    t = time.perf_counter()
    creator = g.create_group(suite, b"bench-group", *ident(0), NOW)
    res, pending = g.commit(creator, now=NOW, by_value=[Add(k.key_package) for k in kps])
    creator = g.merge_pending(pending)
    out["create_ms"] = _ms(t)
    t = time.perf_counter()
    member = g.join_from_welcome(res.welcome, kps[-1], NOW)  # type: ignore[arg-type]
    out["join_ms"] = _ms(t)
    for name, kw in (("update", {"force_path": True}), ("remove", {"by_value": [Remove(1)]})):
        if name == "remove" and (n < 3 or member.own_leaf == 1):
            continue
        t = time.perf_counter()
        res, pending = g.commit(creator, now=NOW, **kw)  # type: ignore[arg-type]
        out[f"{name}_create_ms"] = _ms(t)
        creator = g.merge_pending(pending)
        t = time.perf_counter()
        _, member = g.process(member, res.commit, NOW)
        out[f"{name}_process_ms"] = _ms(t)
    t = time.perf_counter()
    msg, creator = g.protect(creator, bytes(100))
    _, member = g.process(member, msg, NOW)
    out["message_ms"] = _ms(t)
    out["state_bytes"] = len(member.to_bytes())
    return out


def cli_main(args: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="accord bench mls-groups")
    p.add_argument("--sizes", default="10,100,1000")
    p.add_argument("--suite", type=int, default=1)
    a = p.parse_args(args)
    result: dict[str, Any] = {"suite": a.suite}
    for n in (int(x) for x in a.sizes.split(",")):
        for key, value in run_size(n, a.suite).items():
            result[f"n{n}_{key}"] = value
    return result


if __name__ == "__main__":
    for k, v in cli_main(sys.argv[1:]).items():
        print(f"{k:30} {v}")
