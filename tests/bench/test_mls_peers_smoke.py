"""``accord bench mls-peers`` runs end to end at 10 members: JSON shape only,
no time is asserted. Without node or ts-mls the test skips, except under
CI=true, where their absence is a failure."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from accord.cli import bench_cmd

OPS = ("create", "join", "update_create", "update_process", "app_protect", "app_unprotect")


def _run() -> dict[str, Any]:
    module = bench_cmd.load("mls-peers")
    missing = module.tsmls_missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"ts-mls side unavailable under CI: {missing}")
        pytest.skip(missing)
    result: dict[str, Any] = module.cli_main(
        ["--sizes", "10", "--repeats", "1", "--app-messages", "2", "--budget", "60"])
    return result


def test_json_shape() -> None:
    out = _run()
    json.dumps(out)  # the --json contract: one JSON object
    assert out["suite"] == 1 and out["tsmls"].startswith("ts-mls 1.6.4")
    entry = out["n10"]
    for side in ("accord", "tsmls"):
        res = entry[side]
        assert res["members"] == 10
        for op in OPS:
            assert isinstance(res[f"{op}_ms"], (int, float)) and res[f"{op}_ms"] >= 0, (side, op)
        # Both made the same group: a fresh-tree update from member 1 reaches
        # the next epoch at member 8; a 100-byte message in the same bucket.
        assert res["update_epoch_agrees"] is True
        assert res["welcome_bytes"] > 0 and res["update_commit_bytes"] > 0
    table = out["table"]
    assert [r["operation"] for r in table] == list(OPS)
    for row in table:
        assert row["members"] == 10
        assert set(row) == {"operation", "members", "accord_ms", "tsmls_ms", "ratio"}
        assert isinstance(row["ratio"], float) and row["ratio"] > 0
    assert set(out["goals_n_ge_100"]) == set(OPS)


def test_accord_alone() -> None:
    out = bench_cmd.load("mls-peers").cli_main(
        ["--sizes", "10", "--repeats", "1", "--app-messages", "2", "--no-peer"])
    assert "tsmls" not in out["n10"]
    assert all(r["tsmls_ms"] is None and r["ratio"] is None for r in out["table"])
    assert out["n10"]["accord"]["update_epoch_agrees"] is True
