"""The runner against two real ts-mls peers: every script of every config, suite 1.

This proves the runner and the peer before Accord's side exists, and measures the
peer's own limitations (peer_limitations.py): each listed script must fail for the
listed reason, every other script must pass, and no script may go unrun.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from accord.interop.client import connect
from accord.interop.config import load_scenarios
from accord.interop.divergence import RunResult
from accord.interop.runner import Options, run_clients
from tests.interop.peer_limitations import LIMITATIONS, OTHER_SUITES, SUITE
from tests.interop.tsmls_peer import Peer

CONFIGS = sorted((Path(__file__).resolve().parent / "configs").glob("*.json"))
SEED = 20251125


def all_scripts() -> dict[str, tuple[str, ...]]:
    """label -> creators, for every script of every config file in the repository."""
    return {s.label: s.creators() for f in CONFIGS for s in load_scenarios(f)}


def run_matrix(pair: list[Peer], configs: list[Path] = CONFIGS, **options: object) -> tuple[list[RunResult], str]:
    clients = [connect(f"c{i}", p.address) for i, p in enumerate(pair)]
    out = io.StringIO()
    try:
        outcome = run_clients(clients, Options(configs=configs, **options), out)  # type: ignore[arg-type]
    finally:
        for c in clients:
            c.close()
    text = out.getvalue()
    assert text.splitlines()[-1] == f"{outcome.passed} passed, {outcome.failed} failed"
    return outcome.results, text


def check_against_limitations(
    results: list[RunResult], min_runs: int, configs: list[Path] = CONFIGS, modes: tuple[str, ...] = ("public", "private")
) -> None:
    by_script: dict[str, list[RunResult]] = defaultdict(list)
    for r in results:
        by_script[r.label].append(r)
    scripts = {s.label: s.creators() for f in configs for s in load_scenarios(f)}
    assert set(by_script) == set(scripts), "every script of every config must run"
    assert set(LIMITATIONS) <= set(all_scripts()), "a listed limitation names no script"
    for label, runs in by_script.items():
        for hs in ("public", "private"):
            mode = [r for r in runs if r.handshake == hs]
            if hs not in modes:
                assert not mode, (label, hs)
                continue
            assert len(mode) >= min_runs, (label, hs)
            for creator in scripts[label]:
                on = {dict(r.roles)[creator] for r in mode}
                assert on == {"c0", "c1"}, f"{label} ({hs}): creator {creator} ran only on {on}"
        limitation = LIMITATIONS.get(label)
        if limitation is None:
            failed = [f"{r.roles_text()} step {r.failed_step}: {r.error}" for r in runs if not r.passed]
            assert not failed, f"{label} should pass ts-mls vs ts-mls: {failed}"
        else:
            for r in runs:
                assert not r.passed, f"{label} is listed as a ts-mls limitation but passed ({r.roles_text()})"
                assert limitation.evidence in (r.error or ""), f"{label}: unexpected failure {r.error}"


def test_every_config_sampled_on_suite_1(tsmls_pair: list[Peer]) -> None:
    results, text = run_matrix(tsmls_pair, suites=[SUITE], sample=2, seed=SEED, handshake="both")
    check_against_limitations(results, min_runs=2)
    # One line per run plus the summary; client and sampling notes start with '#'.
    result_lines = [line for line in text.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(result_lines) == len(results)
    assert all(r.suite == SUITE for r in results)


def test_core_configs_on_every_other_rfc_suite_and_x_wing(tsmls_pair: list[Peer]) -> None:
    """welcome_join, application and commit on suites 2..7 and X-Wing (83).

    One sampled run per group creator and client, encrypted handshakes only (suite 1
    above covers both modes); this keeps the whole interop suite within minutes.
    """
    core = [p for p in CONFIGS if p.name in ("welcome_join.json", "application.json", "commit.json")]
    results, _ = run_matrix(tsmls_pair, core, suites=OTHER_SUITES, sample=1, seed=SEED, handshake="private")
    assert {r.suite for r in results} == set(OTHER_SUITES)
    for suite in OTHER_SUITES:
        check_against_limitations([r for r in results if r.suite == suite], 2, core, modes=("private",))


def test_low_level_actions(tsmls_pair: list[Peer], tmp_path: Path) -> None:
    """The step kinds no config uses (commit, handleCommit, handlePendingCommit, joinGroup, groupInfo)."""
    from tests.interop.test_runner_divergence import LOW_LEVEL

    path = tmp_path / "low.json"
    path.write_text(json.dumps(LOW_LEVEL))
    results, text = run_matrix(tsmls_pair, [path], suites=[SUITE], handshake="both")
    assert len(results) == 8 and all(r.passed for r in results), text


def test_cli_exit_code_and_last_line(tsmls_pair: list[Peer]) -> None:
    config = Path(__file__).resolve().parent / "configs"
    base = [sys.executable, "-c", "from accord.cli.main import main; main()", "interop", "run",
            "--client", tsmls_pair[0].address, "--client", tsmls_pair[1].address, "--suite", "1",
            "--sample", "2", "--seed", "7", "--handshake", "public"]
    ok = subprocess.run([*base, "--config", str(config / "welcome_join.json")], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1] == "8 passed, 0 failed"
    bad = subprocess.run(
        [*base, "--config", str(config / "external_join.json"), "--script", "with_psk", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert lines[-1] == "0 passed, 2 failed"
    assert '"UNIMPLEMENTED' not in lines[-1]
    assert all('"result": "fail"' in line and "UNIMPLEMENTED" in line for line in lines if '"result"' in line)


@pytest.mark.slow
def test_full_matrix_suite_1(tsmls_pair: list[Peer]) -> None:
    """Every assignment of both clients to every actor, both handshake modes.

    deep_random has dozens of actors (2**actors assignments, each run minutes long
    at full depth), so it runs a seeded sample of 4 here and in the default test.
    """
    labels = [label for label in all_scripts() if not label.startswith("deep_random.json:")]
    full, _ = run_matrix(tsmls_pair, suites=[SUITE], handshake="both", scripts=labels, max_assignments=1024)
    deep, _ = run_matrix(tsmls_pair, suites=[SUITE], handshake="both", scripts=["deep_random.json:random"], sample=4, seed=SEED)
    check_against_limitations(full + deep, min_runs=4)
