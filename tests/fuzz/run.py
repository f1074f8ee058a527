"""``make fuzz``: run every fuzz target for a bounded time (issue 24).

    python -m tests.fuzz.run [--seconds-per-target N] [--target NAME ...] [--no-merge]

``FUZZ_SECONDS`` (default 180) is the whole budget, shared evenly by the
targets. Each target runs in its own process (atheris/libFuzzer) on a working
copy of its corpus in tests/fuzz/corpus/NAME plus its seeds; what it finds is
then merged back minimized (``-merge=1``), so the corpus in the repo stays
small. A crash, hang or memory blow-up is written to tests/fuzz/crashes/NAME/,
where tests/fuzz/test_fuzz_regressions.py replays it from then on as a test
named for it. The seconds run are added to tests/fuzz/hours.json.
Exit status: 0 when no target crashed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fuzz.targets import TARGETS

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"
LEDGER = HERE / "hours.json"
MAX_LEN = 16384


def _fuzz_cmd(name: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "tests.fuzz.one", name, *flags]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def fuzz_target(name: str, seconds: int, merge: bool, crash_root: Path = CRASHES,
                ledger: Path = LEDGER) -> bool:
    """Run one target; True when it found no crash."""
    crashes = crash_root / name
    crashes.mkdir(parents=True, exist_ok=True)
    kept = CORPUS / name
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        work = Path(tmp) / "work"
        if kept.is_dir():
            shutil.copytree(kept, work)
        else:
            work.mkdir()
        for i, seed in enumerate(TARGETS[name].seeds()):
            (work / f"seed-{i:04d}").write_bytes(seed)
        flags = [f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
                 f"-max_len={MAX_LEN}", f"-artifact_prefix={crashes}/", "-print_final_stats=1"]
        done = subprocess.run(_fuzz_cmd(name, *flags, str(work)), cwd=ROOT, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = done.stdout
        ok = done.returncode == 0
        tail = [ln for ln in out.splitlines() if ln.startswith(("stat::", "#", "=="))]
        print(f"{name}: {'ok' if ok else 'CRASH'} after {seconds}s; {' '.join(tail[-3:])[:300]}")
        if not ok:  # from the exception (or libFuzzer's own report) on
            start = out.find("=== Uncaught")
            start = start if start >= 0 else max(out.find("ERROR: libFuzzer"), 0)
            print(out[start:start + 6000], file=sys.stderr)
        if merge:
            fresh = Path(tmp) / "min"
            fresh.mkdir()
            subprocess.run(_fuzz_cmd(name, "-merge=1", f"-max_len={MAX_LEN}", str(fresh), str(work)),
                           cwd=ROOT, env=_env(), capture_output=True, check=False)
            if any(fresh.iterdir()):
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(fresh, kept)
    _ledger(ledger, name, seconds)
    return ok


def _ledger(ledger: Path, name: str, seconds: int) -> None:
    book = json.loads(ledger.read_text()) if ledger.exists() else {}
    book[name] = book.get(name, 0) + seconds
    ledger.write_text(json.dumps(book, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", action="append", choices=sorted(TARGETS))
    ap.add_argument("--seconds-per-target", type=int)
    ap.add_argument("--no-merge", action="store_true", help="leave the corpus in the repo as it is")
    ap.add_argument("--crashes", type=Path, default=CRASHES, help="where crashes are written")
    ap.add_argument("--ledger", type=Path, default=LEDGER, help="the file of seconds run")
    args = ap.parse_args(argv)
    names = args.target or sorted(TARGETS)
    per = args.seconds_per_target or max(1, int(os.environ.get("FUZZ_SECONDS", "180")) // len(names))
    failed = [n for n in names
              if not fuzz_target(n, per, not args.no_merge, args.crashes, args.ledger)]
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
