"""``accord web`` and the CLI on one profile (issue 19's writer lock, issue 20's app).

The app keeps the profile open for its whole run, but it holds the profile's
writer lock only for each request and each sync: a CLI command on the same
profile runs while the app is up, instead of waiting and failing busy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.helpers import PASS, Clock, new_device

CLI_TIMEOUT_S = 120
START_TIMEOUT_S = 60


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from accord.cli.main import main; main()", *args]


def _env(profile: Path) -> dict[str, str]:
    # A short wait: a command that finds the profile busy fails fast.
    return dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS,
                ACCORD_LOCK_WAIT="5", COLUMNS="200")


def _url(web: subprocess.Popen[str]) -> str:
    assert web.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:  # bounded: the app prints its line once it serves
        line = web.stdout.readline()
        if line.startswith("Accord web: "):
            return line.split(": ", 1)[1].strip()
        if not line and web.poll() is not None:
            break
    raise AssertionError("accord web never served")


async def test_a_cli_command_runs_while_the_web_app_is_up(server, tmp_path: Path) -> None:
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "alice", f"alice{tag}@alpha.test", server.url, clock)
    await alice.disconnect()
    alice.close()
    profile = tmp_path / "alice"
    web = subprocess.Popen(_cli("web", "--no-browser"), env=_env(profile),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = _url(web)
        # The app answers (the token becomes a cookie, then the page), and the CLI
        # still gets the profile; so does the app afterwards.
        browser = httpx.Client(follow_redirects=True, timeout=30)
        assert browser.get(url).status_code == 200
        done = subprocess.run(_cli("chat", "new", "notes"), env=_env(profile),
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        assert done.returncode == 0, done.stderr
        listed = subprocess.run(_cli("chat", "list"), env=_env(profile),
                                capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        assert listed.returncode == 0, listed.stderr
        assert "notes" in listed.stdout
        assert browser.get(url.split("?")[0]).status_code == 200
    finally:
        web.terminate()
        web.wait(timeout=30)
