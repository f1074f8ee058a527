"""What the runner reports when members disagree, or a client cannot do a step.

Two in-process fake MLSClient servers (fake_mls.py) agree unless told to lie; the
report must then name the script, the step and its action, the role assignment,
the suite, and the first value that differs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from accord.interop.divergence import short_hex
from accord.interop.runner import Options, Outcome, run
from tests.interop.fake_mls import FakeMLS, Knobs, h, serve

LOW_LEVEL = {
    "scripts": {
        "step_by_step": [
            {"action": "createGroup", "actor": "alice"},
            {"action": "createKeyPackage", "actor": "bob"},
            {"action": "addProposal", "actor": "alice", "keyPackage": 1},
            {"action": "commit", "actor": "alice", "byReference": [2]},
            {"action": "handlePendingCommit", "actor": "alice"},
            {"action": "joinGroup", "actor": "bob", "welcome": 3},
            {"action": "updateProposal", "actor": "bob"},
            {"action": "commit", "actor": "alice", "byReference": [6]},
            {"action": "handleCommit", "actor": "bob", "commit": 7, "byReference": [6]},
            {"action": "handlePendingCommit", "actor": "alice"},
            {"action": "groupInfo", "actor": "alice"},
            {"action": "protect", "actor": "bob", "authenticatedData": "a", "plaintext": "p"},
            {"action": "unprotect", "actor": "alice", "ciphertext": 11},
        ]
    }
}

SCRIPTS = {
    "scripts": {
        "two_commits": [
            {"action": "createGroup", "actor": "alice", "members": ["bob"]},
            {"action": "fullCommit", "actor": "alice", "members": ["bob"]},
            {"action": "fullCommit", "actor": "alice", "members": ["bob"]},
        ],
        "talk": [
            {"action": "createGroup", "actor": "alice", "members": ["bob"]},
            {"action": "protect", "actor": "alice", "authenticatedData": "ad", "plaintext": "hi"},
            {"action": "unprotect", "actor": "bob", "ciphertext": 1},
        ],
    }
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(SCRIPTS))
    return path


def go(c0: FakeMLS, c1: FakeMLS, config: Path, **kw: object) -> tuple[Outcome, list[str]]:
    out = io.StringIO()
    with serve(c0, c1) as addresses:
        options = {"suites": [1], "handshake": "public", **kw}
        outcome = run(addresses, Options(configs=[config], **options), out)  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[-1] == f"{outcome.passed} passed, {outcome.failed} failed"
    return outcome, lines


def test_honest_fakes_agree(config: Path) -> None:
    outcome, lines = go(FakeMLS("a"), FakeMLS("b"), config)
    assert outcome.ok and outcome.passed == 8  # 2 scripts x 4 assignments
    assert lines[-1] == "8 passed, 0 failed"


def test_wrong_state_auth_is_reported_with_script_step_roles_suite_and_values(config: Path) -> None:
    liar = FakeMLS("liar", Knobs(lie_state_auth_at=2))
    outcome, lines = go(FakeMLS("honest"), liar, config, scripts=["two_commits"])
    assert not outcome.ok
    # Runs where both actors sit on the same fake agree (with itself); mixed ones fail.
    failed = [r for r in outcome.results if not r.passed]
    assert {r.roles for r in failed} == {(("alice", "c0"), ("bob", "c1")), (("alice", "c1"), ("bob", "c0"))}
    r = next(r for r in failed if r.roles == (("alice", "c0"), ("bob", "c1")))
    # createGroup ends in epoch 1, the first fullCommit (step 1) in epoch 2, where the liar lies.
    assert (r.config, r.script, r.suite, r.failed_step, r.action) == ("toy.json", "two_commits", 1, 1, "fullCommit")
    assert r.divergence is not None and r.divergence.what == "StateAuth"
    (ref, ref_value), (other, other_value) = r.divergence.first_difference
    assert (ref, other) == ("alice(c0)", "bob(c1)")
    assert other_value != ref_value and other_value == h(b"lie", ref_value)
    line = next(x for x in lines if x.startswith("FAIL") and "roles=alice=c0,bob=c1" in x)
    assert line.startswith("FAIL toy.json:two_commits suite=1 hs=public roles=alice=c0,bob=c1: step 1 fullCommit: ")
    assert f"StateAuth differs: alice(c0)={short_hex(ref_value)} but bob(c1)={short_hex(other_value)}" in line


def test_json_report_carries_the_full_values(config: Path) -> None:
    liar = FakeMLS("liar", Knobs(lie_export_at=1))
    outcome, lines = go(FakeMLS("honest"), liar, config, scripts=["two_commits"], as_json=True)
    records = [json.loads(x) for x in lines[:-1]]
    fails = [x for x in records if x.get("result") == "fail"]
    assert len(fails) == 2 and outcome.failed == 2
    f = next(x for x in fails if x["roles"] == {"alice": "c1", "bob": "c0"})
    assert (f["config"], f["script"], f["suite"], f["failed_step"], f["action"]) == ("toy.json", "two_commits", 1, 0, "createGroup")
    div = f["divergence"]
    assert div["value"] == "Export"
    assert (div["reference"], div["first_differing"]) == ("alice(c1)", "bob(c0)")
    assert div["members"]["alice(c1)"] != div["members"]["bob(c0)"]
    assert len(bytes.fromhex(div["members"]["bob(c0)"])) == 32
    assert json.loads(f["step"])["action"] == "createGroup"


def test_matrix_file(config: Path, tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.md"
    liar = FakeMLS("liar", Knobs(lie_state_auth_at=2))
    outcome, _ = go(FakeMLS("honest"), liar, config, matrix=matrix)
    text = matrix.read_text()
    assert "| c0 = honest |" in text and "| c1 = liar |" in text
    assert "| toy.json:talk | 1 | public | 4/4 |  |" in text
    row = next(x for x in text.splitlines() if x.startswith("| toy.json:two_commits |"))
    assert "| 2/4 |" in row and "alice=c0,bob=c1: step 1 fullCommit: StateAuth differs" in row
    assert outcome.failed == 2


def test_grid_file(config: Path, tmp_path: Path) -> None:
    grid = tmp_path / "grid.md"
    liar = FakeMLS("liar", Knobs(lie_state_auth_at=2))
    outcome, _ = go(FakeMLS("honest"), liar, config, grid=grid, suites=[1, 2], handshake="both")
    lines = grid.read_text().splitlines()
    assert lines[0] == "| script | 1 | 2 |"
    assert "| toy.json:talk | 8/8 | 8/8 |" in lines
    assert "| toy.json:two_commits | 4/8 | 4/8 |" in lines
    assert lines[-1] == f"{outcome.passed} passed, {outcome.failed} failed of {outcome.passed + outcome.failed} runs"


def test_wrong_epoch_authenticator_in_a_response(config: Path) -> None:
    liar = FakeMLS("liar", Knobs(lie_epoch_authenticator_at=2))
    outcome, lines = go(FakeMLS("honest"), liar, config, scripts=["two_commits"])
    r = next(r for r in outcome.results if r.roles == (("alice", "c0"), ("bob", "c1")))
    assert not r.passed and r.failed_step == 1 and r.action == "fullCommit"
    assert r.divergence is not None and r.divergence.what == "epoch_authenticator"
    assert [m for m, _ in r.divergence.values] == ["alice(c0)", "bob(c1)"]


class NoUpdates(FakeMLS):
    def UpdateProposal(self, request: Any, context: Any) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "no updates here")


def test_unimplemented_step_is_a_failure(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "update.json"
    path.write_text(json.dumps({"scripts": {"update": [
        {"action": "createGroup", "actor": "alice", "members": ["bob"]},
        {"action": "updateProposal", "actor": "bob"},
    ]}}))
    outcome, lines = go(NoUpdates("a"), NoUpdates("b"), path)
    assert outcome.passed == 0 and outcome.failed == 4
    assert all("step 1 updateProposal" in x and "UpdateProposal: UNIMPLEMENTED" in x for x in lines if x.startswith("FAIL"))
    assert lines[-1] == "0 passed, 4 failed"


def test_unknown_action_and_unshared_suite_fail(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"scripts": {"odd": [{"action": "createGroup", "actor": "alice"}, {"action": "dance", "actor": "alice"}]}}))
    out = io.StringIO()
    with serve(FakeMLS("a"), FakeMLS("b")) as addresses:
        outcome = run(addresses, Options(configs=[path], suites=[1, 7], handshake="public"), out)
    lines = out.getvalue().splitlines()
    assert any(x.startswith("FAIL suite=7: not supported by every client") for x in lines)
    assert all("unknown action: dance" in x for x in lines if x.startswith("FAIL odd") or "odd.json" in x and x.startswith("FAIL"))
    assert outcome.failed == 1 + 2 and lines[-1] == "0 passed, 3 failed"


def test_unreachable_client_is_a_failure(config: Path) -> None:
    out = io.StringIO()
    outcome = run(["127.0.0.1:1"], Options(configs=[config], handshake="public", connect_timeout=2.0), out)  # nothing listens on port 1
    assert not outcome.ok
    assert out.getvalue().splitlines()[-1] == "0 passed, 1 failed"


def test_every_step_kind_of_every_config_runs_through_the_fakes() -> None:
    """The runner's plumbing for every action of the real scenario files.

    The fakes agree with each other on everything, so every run must pass; a
    mis-wired action (a wrong step index, a missing handle, an RPC the runner
    forgot) shows up as a failure.
    """
    configs = sorted((Path(__file__).resolve().parent / "configs").glob("*.json"))
    deep = [p for p in configs if p.name == "deep_random.json"]
    out = io.StringIO()
    with serve(FakeMLS("a"), FakeMLS("b")) as addresses:
        outcome = run(addresses, Options(configs=[p for p in configs if p not in deep], suites=[1], sample=2, seed=3, handshake="both"), out)
        # deep_random's 1670 steps use no action the other files lack: one run per creator.
        deep_outcome = run(addresses, Options(configs=deep, suites=[1], sample=1, seed=3, handshake="public"), out)
    failures = [x for x in out.getvalue().splitlines() if x.startswith("FAIL")]
    assert not failures, failures[:5]
    scripts = {r.label for r in outcome.results} | {r.label for r in deep_outcome.results}
    assert len(scripts) == 40 and outcome.passed == len(outcome.results) >= 39 * 2 * 2
    assert deep_outcome.passed == len(deep_outcome.results) == 2
    # reinit change_ciphersuite moved the run to the other shared suite
    changed = [r for r in outcome.results if r.script == "change_ciphersuite"]
    assert changed and all(r.final_suite == 2 for r in changed)


def test_low_level_actions(tmp_path: Path) -> None:
    """commit / handlePendingCommit / joinGroup / handleCommit / groupInfo, which no config uses."""
    path = tmp_path / "low.json"
    path.write_text(json.dumps(LOW_LEVEL))
    outcome, lines = go(FakeMLS("a"), FakeMLS("b"), path, handshake="both")
    assert outcome.ok and outcome.passed == 8, lines
    liar = FakeMLS("liar", Knobs(lie_state_auth_at=2))
    outcome, lines = go(FakeMLS("honest"), liar, path)
    failed = [r for r in outcome.results if not r.passed]
    # Members only meet in epoch 2 once alice applies her pending commit (step 9).
    assert failed and all(r.failed_step == 9 and r.action == "handlePendingCommit" for r in failed)


def test_default_suites_are_those_every_client_supports(config: Path) -> None:
    out = io.StringIO()
    with serve(FakeMLS("a"), FakeMLS("b")) as addresses:
        outcome = run(addresses, Options(configs=[config], handshake="public", scripts=["talk"]), out)
    assert outcome.ok and {r.suite for r in outcome.results} == {1, 2}  # the fakes offer 1 and 2
    assert outcome.passed == 2 * 4


def test_concurrent_runs_report_the_same_lines_in_the_same_order() -> None:
    """`--jobs N` runs N scripts at once; the report is the serial one, in order."""
    configs = sorted(p for p in (Path(__file__).resolve().parent / "configs").glob("*.json")
                     if p.name != "deep_random.json")

    def lines(jobs: int, liar: FakeMLS) -> list[str]:
        out = io.StringIO()
        with serve(FakeMLS("a"), liar) as addresses:
            run(addresses, Options(configs=configs, suites=[1], sample=2, seed=5, handshake="both", jobs=jobs), out)
        # drop the per-run time, "(0.01s)", which differs between runs
        return [line.rsplit(" (", 1)[0] if line.startswith("PASS") else line
                for line in out.getvalue().splitlines() if not line.startswith("# c")]

    serial, parallel = lines(1, FakeMLS("b")), lines(4, FakeMLS("b"))
    assert serial == parallel and serial[-1].endswith(" passed, 0 failed")
    lying = lines(4, FakeMLS("b", Knobs(lie_state_auth_at=1)))
    assert lying[-1] != serial[-1] and lying[-1].endswith("failed") and " 0 failed" not in lying[-1]


def test_grid_rebuilt_from_per_suite_matrices(config: Path, tmp_path: Path) -> None:
    """A matrix run in parts (one file per suite) gives the grid of one whole run."""
    from tests.interop.full_matrix import grid_from_suite_files

    whole = tmp_path / "whole.md"
    liar = FakeMLS("liar", Knobs(lie_state_auth_at=2))
    go(FakeMLS("honest"), liar, config, grid=whole, suites=[1, 2], handshake="both")
    for suite in (1, 2):
        go(FakeMLS("honest"), FakeMLS("liar", Knobs(lie_state_auth_at=2)), config,
           matrix=tmp_path / f"toy-suite-{suite}.md", suites=[suite], handshake="both")
    assert grid_from_suite_files("toy", tmp_path) == whole.read_text()
