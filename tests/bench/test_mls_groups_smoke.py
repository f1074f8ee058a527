"""``accord bench mls-groups`` runs end to end at 10 members (no time is asserted)."""

from __future__ import annotations

from typing import Any

import pytest

from accord.cli import bench_cmd


def _run(*args: str) -> dict[str, Any]:
    result: dict[str, Any] = bench_cmd.load("mls-groups").cli_main(["--sizes", "10", *args])
    return result


def test_accord_side_reports_every_operation() -> None:
    out = _run("--no-peer", "--repeats", "1")
    accord = out["n10"]["accord"]
    ops = bench_cmd.load("mls-groups").OPS
    for op in ops:
        assert accord[f"{op}_ms"] >= 0 and accord[f"{op}_cpu_ms"] >= 0
    # RFC 9420 7.6: right after creation no parent on member 1's copath is
    # filled, so its path secrets go to each of the 9 other members' leaves;
    # once each copath subtree has had a committer, one per copath node.
    assert accord["update_fresh_ciphertexts"] == 9
    assert accord["update_filled_ciphertexts"] == 4
    assert accord["state_bytes"] > 0
    assert "rfc9420" not in out["n10"]


def test_side_by_side_with_rfc9420() -> None:
    pytest.importorskip("rfc9420")
    entry = _run("--repeats", "1", "--peer-timeout", "60")["n10"]
    peer = entry["rfc9420"]
    ratios = entry["ratio_accord_over_rfc9420"]
    # Every operation has a ratio or the reason rfc9420 could not do it.
    for op in bench_cmd.load("mls-groups").OPS:
        assert op in ratios
        assert isinstance(ratios[op], float) or op in peer["unavailable"]
    assert isinstance(ratios["create"], float) and isinstance(ratios["join"], float)
