"""``accord bench cluster`` runs end to end: JSON shape only, no timing is asserted
(issue 23; figures go to docs/PERFORMANCE.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
FIGURES = ("messages_per_s", "deliveries_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_msg")


def test_bench_cluster_json() -> None:
    engines = "sqlite,postgresql" if os.environ.get("ACCORD_TEST_PG") and \
        os.environ.get("ACCORD_TEST_NATS") else "sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", "from accord.cli.main import main; main()", "bench",
         "cluster", "--json", "--engines", engines, "--nodes", "1,2", "--groups", "2",
         "--messages", "4", "--seconds", "30", "--concurrency", "2"],
        capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": SRC})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    runs = result["runs"]
    expected = [("sqlite", 1)] + ([("postgresql", 1), ("postgresql", 2)]
                                  if "postgresql" in engines else [])
    assert [(r["engine"], r["nodes"]) for r in runs] == expected
    for run in runs:
        assert run["members"] == 2
        assert run["expected"] == 4 and run["delivered"] == 4, run
        assert all(isinstance(run[key], (int, float)) for key in FIGURES), run
