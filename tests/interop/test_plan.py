"""Scenario parsing and the choice of role assignments."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.errors import DecodeError
from accord.interop.assignment import full_matrix, plan, sample
from accord.interop.config import load_scenarios, parse_scenarios

CONFIGS = Path(__file__).resolve().parent / "configs"


def test_actors_include_members_joiners_and_signers() -> None:
    ext = {s.name: s for s in load_scenarios(CONFIGS / "external_proposals.json")}
    assert ext["external_add"].actors() == ("alice", "bob", "ds", "charlie")
    assert ext["joiner_signed_add"].actors() == ("alice", "bob")
    join = {s.name: s for s in load_scenarios(CONFIGS / "external_join.json")}
    assert join["with_more_members"].actors() == ("alice", "bob", "charlie", "diana", "ellen")
    assert join["with_more_members"].creators() == ("alice",)


def test_parameters_match_case_insensitively_like_go_json() -> None:
    reinit = {s.name: s for s in load_scenarios(CONFIGS / "reinit.json")}
    step = reinit["change_ciphersuite"].steps[1]
    assert "changeCiphersuite" in step.raw and step.get("changeCipherSuite") is True
    branch = {s.name: s for s in load_scenarios(CONFIGS / "branch.json")}
    assert branch["external_tree"].steps[1].flag("external_tree", "externalTree")
    assert not branch["base"].steps[1].flag("external_tree", "externalTree")


def test_bad_scenario_files_are_rejected() -> None:
    with pytest.raises(DecodeError):
        parse_scenarios("x.json", {"scripts": {"s": [{"actor": "a"}]}})
    with pytest.raises(DecodeError):
        parse_scenarios("x.json", [])


def test_full_matrix_is_every_assignment() -> None:
    m = full_matrix(3, 2)
    assert len(m) == 8 == len(set(m))


def test_sample_is_fixed_and_puts_the_creator_on_every_client() -> None:
    actors = ("alice", "bob", "charlie1", "charlie2")
    a = sample(actors, ("alice",), 2, 3, seed=5, key="commit.json:add")
    assert a == sample(actors, ("alice",), 2, 3, seed=5, key="commit.json:add")
    assert a != sample(actors, ("alice",), 2, 3, seed=6, key="commit.json:add") or len(a) == 3
    assert len(a) == 3 == len(set(a))
    assert {x[0] for x in a} == {0, 1}
    for combo in a[:2]:  # the creator runs mix implementations
        assert len(set(combo)) == 2
    assert len(sample(("alice", "bob"), ("alice",), 3, 1, seed=0, key="k")) == 3  # one per client at least


def test_plan_samples_huge_matrices_and_says_so() -> None:
    actors = tuple(f"actor{i}" for i in range(40))
    p = plan(actors, ("actor0",), 2, sample_k=None, seed=1, key="deep", max_assignments=16)
    assert len(p.assignments) == 16 and not p.complete and "2**40" in p.note
    small = plan(("a", "b"), ("a",), 2, sample_k=None, seed=1, key="k", max_assignments=16)
    assert small.complete and small.note == ""


def test_limitations_only_excuse_runs_with_tsmls() -> None:
    from tests.interop.peer_limitations import LIMITATIONS, must_pass

    assert "commit.json:group_context_extensions" in LIMITATIONS
    assert not must_pass("commit.json:group_context_extensions", with_tsmls=True)
    assert must_pass("commit.json:group_context_extensions", with_tsmls=False)
    assert must_pass("commit.json:add", with_tsmls=True)


def test_missing_node_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.interop import tsmls_peer

    monkeypatch.setattr(tsmls_peer.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node and npm"):
        tsmls_peer.require_node()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        tsmls_peer.require_node()
