"""`accord interop serve` driven by the runner: Accord x Accord and Accord x ts-mls.

Two separate server processes per pairing (conftest.py). Accord against Accord
must pass every script; a run with ts-mls in a role must pass unless it is a script
ts-mls fails against itself (peer_limitations.LIMITATIONS) and that limitation's
evidence is in the error. Accord runs with `--peer-quirk tsmls-external-pub` against
ts-mls (peer_limitations.py says why; a test below shows the run without it). Every
sample includes a run where each implementation creates the group.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from accord.interop.divergence import RunResult
from accord.interop.quirks import TSMLS_EXTERNAL_PUB
from tests.interop.full_matrix import full_matrix
from tests.interop.peer_limitations import (
    BARE_EXTERNAL_PUB,
    EXTERNAL_JOIN_SCRIPTS,
    LIMITATIONS,
    OTHER_SUITES,
    SUITE,
    explains,
    mixed_excuse,
)
from tests.interop.test_tsmls_self import CONFIGS, SEED, run_matrix
from tests.interop.tsmls_peer import Peer, peers, require_node, start_accord, start_peer

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
        excuse = mixed_excuse(r.label)
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
    # Every script ts-mls passes against itself passes here, in every role order.
    assert all(r.passed for r in results if r.label not in LIMITATIONS), text
    assert set(EXTERNAL_JOIN_SCRIPTS) <= {r.label for r in results if r.passed}


def test_accord_tsmls_core_on_other_suites_and_x_wing(accord_tsmls: list[Peer]) -> None:
    """Every other RFC suite (the ECDSA ones included: the peer gives ts-mls RFC-form
    keys) and X-Wing: all runs pass but those of ts-mls's own limitations."""
    results, text = run_matrix(accord_tsmls, CORE, suites=OTHER_SUITES, sample=1, seed=SEED, handshake="private")
    assert {r.suite for r in results} == set(OTHER_SUITES)
    _check_mixed(results)
    assert all(r.passed for r in results if r.label not in LIMITATIONS), text


def test_reinit_to_an_ecdsa_suite_with_tsmls(accord_tsmls: list[Peer]) -> None:
    """reinit change_ciphersuite moves the group from suite 1 to suite 2 (P-256)."""
    reinit = [p for p in CONFIGS if p.name == "reinit.json"]
    results, text = run_matrix(accord_tsmls, reinit, suites=[SUITE], handshake="both",
                               scripts=["reinit.json:change_ciphersuite"])
    assert results and all(r.passed and r.final_suite == 2 for r in results), text


def test_without_the_quirk_tsmls_cannot_join_an_accord_group_externally() -> None:
    """The reason for `--peer-quirk tsmls-external-pub`: from Accord's RFC 9420
    GroupInfo ts-mls 1.6.4 cannot join; the other direction needs no quirk."""
    ext = [p for p in CONFIGS if p.name == "external_join.json"]
    with peers(1) as (ts,):
        accord = start_accord()
        try:
            results, text = run_matrix([accord, ts], ext, suites=[SUITE], handshake="public",
                                       scripts=["external_join.json:normal"])
        finally:
            accord.stop()
    by_roles = {dict(r.roles)["alice"] + dict(r.roles)["bob"]: r for r in results}
    assert set(by_roles) == {"c0c0", "c0c1", "c1c0", "c1c1"}, text
    joiner_on_tsmls = by_roles["c0c1"]  # Accord's group, ts-mls joins
    assert not joiner_on_tsmls.passed and explains(BARE_EXTERNAL_PUB, joiner_on_tsmls.error), text
    assert by_roles["c1c0"].passed and by_roles["c0c0"].passed and by_roles["c1c1"].passed, text


def test_x_wing_scenarios_accord_and_tsmls(accord_tsmls: list[Peer]) -> None:
    """Post-quantum: welcome_join, application and commit on 0x0053, both handshake
    modes, every role assignment (a seeded 64 of them for the scripts with more)."""
    results, text = run_matrix(accord_tsmls, CORE, suites=[XWING], handshake="both", max_assignments=64)
    _check_mixed(results)
    ok = [r for r in results if r.passed]
    assert len(ok) >= 20 and all(r.suite == XWING for r in results), text


# ------------------------------------------------------------------ the whole matrix
# make test-full (tests/interop/full_matrix.py): every script x every role
# assignment x every shared suite x both handshake modes, sharded over pairs of
# server processes; the matrices go to build/interop for docs/INTEROP.md.

@pytest.mark.slow
def test_full_matrix_accord_accord() -> None:
    results = full_matrix(lambda: [start_accord(), start_accord()], "accord-accord")
    assert not _failures(results), "\n".join(_failures(results)[:20])


@pytest.mark.slow
def test_full_matrix_accord_tsmls() -> None:
    node = require_node()
    results = full_matrix(lambda: [start_accord(TSMLS_EXTERNAL_PUB), start_peer(node)], "accord-tsmls")
    _check_mixed(results)
    assert all(r.passed for r in results if r.label not in LIMITATIONS), "\n".join(_failures(results)[:20])
