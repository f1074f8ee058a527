"""Issue 24: every fuzz input kept in the repo is a regression test.

- Every file of tests/fuzz/crashes/TARGET/ (a crash, hang or memory blow-up
  that ``make fuzz`` once found) is replayed as a test named for it; it must
  now end in the project's typed error or succeed.
- Every target's corpus (tests/fuzz/corpus/TARGET/) and seeds replay cleanly.
- The harness itself: a target whose decoder raises anything but the typed
  errors is reported as a crash by the runner, so a clean run means something.
- A short fuzzing pass of every target (``FUZZ_CI_SECONDS`` each, default 2),
  as CI runs it; ``make fuzz`` runs the long one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fuzz import targets
from tests.fuzz.targets import TARGETS

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CRASHES = sorted(p for p in (HERE / "crashes").glob("*/*") if p.is_file())


@pytest.fixture(scope="module", autouse=True)
def _stop_provider() -> Iterator[None]:
    yield
    targets.close()


@pytest.mark.parametrize("path", CRASHES, ids=[f"{p.parent.name}/{p.name}" for p in CRASHES])
def test_found_crash_is_fixed(path: Path) -> None:
    TARGETS[path.parent.name].run(path.read_bytes())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_corpus_and_seeds_replay(name: str) -> None:
    target = TARGETS[name]
    corpus = sorted((HERE / "corpus" / name).glob("*"))
    for path in corpus:
        target.run(path.read_bytes())
    seeds = list(target.seeds())
    assert seeds, f"{name} has no seeds"
    for seed in seeds:
        target.run(seed)


def test_every_crash_folder_names_a_target() -> None:
    assert {p.parent.name for p in CRASHES} <= set(TARGETS)


def test_an_untyped_error_is_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The allowed outcomes are the typed errors only: a ValueError escapes the target."""
    from accord.errors import DecodeError
    calls = []

    def decoder(data: bytes) -> None:
        calls.append(data)
        if data == b"typed":
            raise DecodeError("typed")
        raise ValueError("untyped")

    monkeypatch.setitem(TARGETS, "probe", None)
    targets.target("probe", ("tests.fuzz.targets",), lambda: iter([b"x"]))(decoder)
    TARGETS["probe"].run(b"typed")
    with pytest.raises(ValueError):
        TARGETS["probe"].run(b"other")
    assert calls == [b"typed", b"other"]


def _fuzz(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    return subprocess.run([sys.executable, "-m", "tests.fuzz.run", "--no-merge", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_short_fuzzing_pass_of_every_target(tmp_path: Path) -> None:
    """CI's short pass (issue 24): each target under atheris for a few seconds, no crash."""
    seconds = os.environ.get("FUZZ_CI_SECONDS", "2")
    done = _fuzz("--seconds-per-target", seconds, "--ledger", str(tmp_path / "hours.json"),
                 "--crashes", str(tmp_path / "crashes"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == f"{len(TARGETS)} passed, 0 failed"


def test_the_runner_reports_a_planted_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this, a runner that never fails would make every pass above green."""
    monkeypatch.setenv("ACCORD_FUZZ_SELFTEST", "1")
    done = _fuzz("--target", "selftest", "--seconds-per-target", "5",
                 "--ledger", str(tmp_path / "hours.json"), "--crashes", str(tmp_path / "crashes"))
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "0 passed, 1 failed"
    assert "planted" in done.stderr
    found = list((tmp_path / "crashes" / "selftest").glob("crash-*"))
    assert [p.read_bytes()[:4] for p in found] == [b"boom"]
