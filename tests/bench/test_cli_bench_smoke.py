"""``accord bench cli`` runs end to end as a CLI process: JSON shape only, no time
is asserted (issue 19; figures go to docs/PERFORMANCE.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
KEYS = ("python", "import_main", "import_send", "help", "send_passphrase", "send", "read",
        "chat_list")


def test_bench_cli_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from accord.cli.main import main; main()", "bench", "cli",
         "--json", "--runs", "1"], capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": SRC})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["runs"] == 1
    for key in KEYS:
        assert result[f"{key}_ms"] > 0 and result[f"{key}_cpu_ms"] >= 0, key
    assert result["kdf_ms"] > 0
    listed = subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                             "bench"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": SRC}).stdout.split()
    assert "cli" in listed
