"""``accord bench websockets`` runs end to end: JSON shape only, no memory figure is
asserted (issue 23; figures go to docs/SCALING.md and docs/PERFORMANCE.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_bench_websockets_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from accord.cli.main import main; main()", "bench",
         "websockets", "--json", "--sockets", "20", "--seconds", "60"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": SRC})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["sockets"] == 20
    assert result["rss_after_kib"] >= result["rss_before_kib"] > 0
    assert "kib_per_socket" in result and "marginal_kib_per_socket" in result
