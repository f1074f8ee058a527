"""`accord demo` runs end to end: exit status 0, transcripts, provider view, T02 check."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def test_demo_runs_and_finds_no_plaintext_at_the_provider() -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           "demo"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, COLUMNS="160"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for who in ("alice (phone) sees", "bob sees", "carol sees", "alice (laptop) sees"):
        assert who in out
    assert "removed you" in out  # carol's own view of her removal
    assert "none found" in out and "FOUND" not in out
    assert "(hidden)" in out  # application messages name no sender at the provider
    assert "accord web --profile" in out  # how to open the demo's profiles in the app
    # the budget is a minute on this machine; leave room for a loaded CI box
    assert time.monotonic() - started < 90
