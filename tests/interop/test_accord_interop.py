"""`accord interop serve` driven by the runner: Accord x Accord and Accord x ts-mls.

Two separate server processes per pairing (conftest.py). Accord against Accord
must pass every script; a run with ts-mls in a role must pass unless ts-mls's own
limitation (peer_limitations.py: LIMITATIONS, or a deviation that only shows
against Accord, MIXED_LIMITATIONS / ECDSA suites) explains its failure, by the
evidence in the error. Every sample includes a run where each implementation
creates the group.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from accord.interop.divergence import RunResult
from tests.interop.peer_limitations import (
    COMPRESSED_ECDSA,
    ECDSA_SUITES,
    MIXED_LIMITATIONS,
    OTHER_SUITES,
    SUITE,
    explains,
    mixed_excuse,
)
from tests.interop.test_tsmls_self import CONFIGS, SEED, all_scripts, run_matrix
from tests.interop.tsmls_peer import Peer

CORE = [p for p in CONFIGS if p.name in ("welcome_join.json", "application.json", "commit.json")]
XWING = 83  # MLS_256_XWING_AES256GCM_SHA512_Ed25519, 0x0053


def _failures(results: list[RunResult]) -> list[str]:
    return [f"{r.label} suite={r.suite} hs={r.handshake} {r.roles_text()} step {r.failed_step}: {r.error}"
            for r in results if not r.passed]


def _creators_on_both(results: list[RunResult], configs: list[Path]) -> None:
    from accord.interop.config import load_scenarios

    creators = {s.label: s.creators() for f in configs for s in load_scenarios(f)}
    by_key: dict[tuple[str, int, str], list[RunResult]] = defaultdict(list)
    for r in results:
        by_key[(r.label, r.suite, r.handshake)].append(r)
    assert {k[0] for k in by_key} == set(creators), "every script must run"
    for (label, suite, hs), runs in by_key.items():
        for creator in creators[label]:
            on = {dict(r.roles)[creator] for r in runs}
            assert on == {"c0", "c1"}, f"{label} suite {suite} ({hs}): creator {creator} only on {on}"


def _check_mixed(results: list[RunResult]) -> None:
    """Accord (c0) with ts-mls (c1): pass, or fail for a listed ts-mls reason."""
    unexplained = []
    for r in results:
        if r.passed:
            continue
        excuse = mixed_excuse(r.label, r.suite)
        if excuse is None or not explains(excuse, r.error):
            unexplained.append(_failures([r])[0])
    assert not unexplained, "Accord x ts-mls failures no ts-mls limitation explains:\n" + "\n".join(unexplained)


# ------------------------------------------------------------------ Accord x Accord

def test_accord_accord_every_script_suite_1(accord_pair: list[Peer]) -> None:
    results, text = run_matrix(accord_pair, suites=[SUITE], sample=2, seed=SEED, handshake="both")
    assert not _failures(results), text
    _creators_on_both(results, CONFIGS)
    assert {r.handshake for r in results} == {"public", "private"}


def test_accord_accord_core_on_other_suites_and_x_wing(accord_pair: list[Peer]) -> None:
    results, text = run_matrix(accord_pair, CORE, suites=OTHER_SUITES, sample=1, seed=SEED, handshake="private")
    assert {r.suite for r in results} == set(OTHER_SUITES)
    assert not _failures(results), text
    for suite in OTHER_SUITES:
        _creators_on_both([r for r in results if r.suite == suite], CORE)


# ------------------------------------------------------------------ Accord x ts-mls

def test_accord_tsmls_every_script_suite_1(accord_tsmls: list[Peer]) -> None:
    results, text = run_matrix(accord_tsmls, suites=[SUITE], sample=2, seed=SEED, handshake="both")
    _creators_on_both(results, CONFIGS)
    _check_mixed(results)
    passed = {r.label for r in results if r.passed}
    # Scripts ts-mls passes against itself and no ts-mls deviation touches pass here.
    assert {"welcome_join.json:with_psk", "commit.json:update", "branch.json:base",
            "reinit.json:change_group_id", "external_proposals.json:joiner_signed_add",
            "application.json:out_of_order_across_epochs"} <= passed, text
    # The deviation only Accord reveals is real: ts-mls cannot join Accord's group externally.
    ext = [r for r in results if r.label == "external_join.json:normal" and dict(r.roles)["alice"] == "c0"]
    assert ext and all(not r.passed and explains(MIXED_LIMITATIONS[r.label], r.error) for r in ext)


def test_accord_tsmls_core_on_other_suites_and_x_wing(accord_tsmls: list[Peer]) -> None:
    """EdDSA suites and X-Wing pass (except ts-mls's own limitations); the ECDSA
    suites fail, each failing run showing ts-mls's compressed keys."""
    results, text = run_matrix(accord_tsmls, CORE, suites=OTHER_SUITES, sample=1, seed=SEED, handshake="private")
    assert {r.suite for r in results} == set(OTHER_SUITES)
    _check_mixed(results)
    for suite in ECDSA_SUITES:
        runs = [r for r in results if r.suite == suite]
        assert any(not r.passed and explains(COMPRESSED_ECDSA, r.error) for r in runs), suite
    for suite in sorted(set(OTHER_SUITES) - set(ECDSA_SUITES)):
        runs = [r for r in results if r.suite == suite]
        for label in ("welcome_join.json:with_psk", "application.json:in_order", "commit.json:add"):
            assert all(r.passed for r in runs if r.label == label), (suite, label, text)


def test_x_wing_scenarios_accord_and_tsmls(accord_tsmls: list[Peer]) -> None:
    """Post-quantum: welcome_join, application and commit on 0x0053, both handshake
    modes, every role assignment (a seeded 64 of them for the scripts with more)."""
    results, text = run_matrix(accord_tsmls, CORE, suites=[XWING], handshake="both", max_assignments=64)
    _check_mixed(results)
    ok = [r for r in results if r.passed]
    assert len(ok) >= 20 and all(r.suite == XWING for r in results), text


# ------------------------------------------------------------------ the whole matrix
# make test-full: every role assignment of every script on suite 1 (deep_random,
# 2**841 assignments, a seeded sample of 4), and the core configs on every suite
# both servers share (up to 16 assignments per script). The Markdown matrices go to
# $INTEROP_MATRIX_DIR (default build/interop) for docs/INTEROP.md.

def _matrix_file(name: str) -> Path:
    folder = Path(os.environ.get("INTEROP_MATRIX_DIR", Path(__file__).resolve().parents[2] / "build" / "interop"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _full(pair: list[Peer], name: str) -> list[RunResult]:
    labels = [label for label in all_scripts() if not label.startswith("deep_random.json:")]
    every, _ = run_matrix(pair, suites=[SUITE], handshake="both", scripts=labels, max_assignments=1024,
                          matrix=_matrix_file(f"{name}-suite1.md"))
    deep, _ = run_matrix(pair, suites=[SUITE], handshake="both", scripts=["deep_random.json:random"],
                         sample=4, seed=SEED)
    # every shared suite (17 with ts-mls): every assignment up to 16 per script, a
    # seeded 16 beyond (commit.json:add has 256); all of them took over 17 minutes.
    core, _ = run_matrix(pair, CORE, handshake="both", max_assignments=16,
                         matrix=_matrix_file(f"{name}-core-all-suites.md"))
    assert len({r.suite for r in core}) >= 10
    return every + deep + core


@pytest.mark.slow
def test_full_matrix_accord_accord(accord_pair: list[Peer]) -> None:
    results = _full(accord_pair, "accord-accord")
    assert not _failures(results), "\n".join(_failures(results)[:20])


@pytest.mark.slow
def test_full_matrix_accord_tsmls(accord_tsmls: list[Peer]) -> None:
    _check_mixed(_full(accord_tsmls, "accord-tsmls"))
