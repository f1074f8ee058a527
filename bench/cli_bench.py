"""Start-up and per-command times of the ``accord`` CLI, as a person runs it.

``accord bench cli [--json] [--runs N]``

Starts a provider on loopback, makes two profiles with ``accord init`` and
``register`` (default Argon2id parameters, as a person gets them), a group of
the two with ``chat new``, then times each command as a fresh process, ``--runs``
times, and reports the median in ms (``_ms`` keys):

- ``help_ms``: ``accord --help``; ``import_main_ms`` / ``import_send_ms``: a bare
  ``python -c`` importing the entry point / the send command's module
  (``python_ms`` is an empty interpreter, the floor under every figure);
- ``send_ms``: ``accord send`` to the 2-member group with ``accord agent``
  holding the key (no prompt, no Argon2id); ``send_passphrase_ms``: the same with
  the passphrase in ``$ACCORD_PASSPHRASE`` (Argon2id on every command);
- ``read_ms``, ``chat_list_ms``: with the agent; ``kdf_ms``: one Argon2id derive.

Each ``X_ms`` (wall time, what a person waits) has an ``X_cpu_ms`` beside it (the
process's user+system time: steadier on a shared machine). Byte-code caches are
written on the first run (``$PYTHONDONTWRITEBYTECODE`` is ignored here), as an
installed package has them.

Not a timed test: figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from accord.client.local_server import running_server

PASSPHRASE = "bench cli passphrase words"
ENTRY = "from accord.cli.main import main; main()"


def _env(profile: Path, with_passphrase: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ACCORD_PASSPHRASE", "PYTHONDONTWRITEBYTECODE")}
    env["ACCORD_PROFILE"] = str(profile)
    if with_passphrase:
        env["ACCORD_PASSPHRASE"] = PASSPHRASE
    return env


def _cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms of the process): on a shared machine the CPU time is the
    steadier figure; the wall time is what a person waits."""
    cpu, start = _cpu_s(), time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                          input="")
    took = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[3:]} failed: {proc.stderr.strip()[-300:]}")
    return took, (_cpu_s() - cpu) * 1000


def _median(out: dict[str, Any], name: str, runs: int, argv: list[str],
            env: dict[str, str]) -> None:
    times = [_timed(argv, env) for _ in range(runs)]
    out[f"{name}_ms"] = round(statistics.median(t[0] for t in times), 1)
    out[f"{name}_cpu_ms"] = round(statistics.median(t[1] for t in times), 1)


def accord(profile: Path, *args: str, passphrase: bool = True) -> None:
    _timed([sys.executable, "-c", ENTRY, *args], _env(profile, passphrase))


def _people(root: Path, url: str) -> tuple[Path, Path]:
    tag = os.urandom(3).hex()
    alice, bob = root / "alice", root / "bob"
    for who, profile in (("alice", alice), ("bob", bob)):
        accord(profile, "init")
        accord(profile, "register", f"{who}{tag}@alpha.test", "--server", url)
    accord(alice, "chat", "new", "bench", f"bob{tag}@alpha.test")
    # bob accepts the stranger's first contact (T14) and joins; alice's next sync sees it
    accord(bob, "requests", "accept", f"alice{tag}@alpha.test")
    accord(bob, "read", "bench")
    return alice, bob


def _kdf_ms(profile: Path) -> float:
    from accord.client.store import ProfileStore

    store = ProfileStore.load(profile)
    start = time.perf_counter()
    store.derive(PASSPHRASE)
    return round((time.perf_counter() - start) * 1000, 1)


def cli_main(args: list[str]) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="accord bench cli")
    ap.add_argument("--runs", type=int, default=5, help="Runs per command (median).")
    opts = ap.parse_args(args)
    runs = max(1, min(opts.runs, 50))
    py = [sys.executable, "-c"]
    out: dict[str, Any] = {"runs": runs}
    with tempfile.TemporaryDirectory(prefix="accord-bench-cli-") as tmp:
        root = Path(tmp)
        with running_server(root / "provider", "alpha.test") as srv:
            alice, _ = _people(root, srv.url)
            env, env_pw = _env(alice, False), _env(alice, True)
            _median(out, "python", runs, [*py, "pass"], env)
            _median(out, "import_main", runs, [*py, "import accord.cli.main"], env)
            _median(out, "import_send", runs, [*py, "import accord.cli.message_cmd"], env)
            _median(out, "help", runs, [*py, ENTRY, "--help"], env)
            out["kdf_ms"] = _kdf_ms(alice)
            _median(out, "send_passphrase", runs, [*py, ENTRY, "send", "bench", "hi"], env_pw)
            accord(alice, "agent", "start", "--timeout", "10m")
            try:
                _median(out, "send", runs, [*py, ENTRY, "send", "bench", "hello"], env)
                _median(out, "read", runs, [*py, ENTRY, "read", "bench", "--no-receipts"], env)
                _median(out, "chat_list", runs, [*py, ENTRY, "chat", "list"], env)
            finally:
                accord(alice, "agent", "stop", passphrase=False)
    return out


if __name__ == "__main__":
    print(cli_main(sys.argv[1:]))
