"""Devices for end-to-end tests: cheap Argon2id, the test clock, the RFC 9420 engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from accord.client.api import ProviderApi
from accord.client.device import Device
from accord.client.device_core import ProviderFactory
from accord.client.mls_rfc import default_engine
from accord.client.mls_session import MlsEngine
from accord.client.store import KdfParams
from tests.timing import wait_until_sync

ACCORD_ARGV = [sys.executable, "-c", "from accord.cli.main import main; main()"]


def accord_argv(clock_at_ms: int | None = None) -> list[str]:
    """The CLI as a real process. With ``clock_at_ms`` its clock reads that time when the
    process starts and runs on from there: the CLI reads the time only through
    ``time.time_ns`` (``client_common.now_ms``), so a test moves the CLI's time instead
    of sleeping."""
    if clock_at_ms is None:
        return ACCORD_ARGV
    shift = ("import time; _wall_ns = time.time_ns; _start_ns = _wall_ns(); "
             f"time.time_ns = lambda: {int(clock_at_ms)} * 1_000_000 + _wall_ns() - _start_ns; ")
    return [sys.executable, "-c", shift + ACCORD_ARGV[2]]
CLI_TIMEOUT_S = 60
CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)
PASS = "correct horse battery staple"


def engine() -> MlsEngine:
    return default_engine()


class Clock:
    """A test clock that starts at the wall clock (the provider checks KeyPackage
    lifetimes with its own) and moves one second per reading."""

    def __init__(self, start: int | None = None) -> None:
        self.t = start if start is not None else time.time_ns() // 1_000_000

    def __call__(self) -> int:
        self.t += 1000
        return self.t


def fresh_account(name: str, domain: str = "alpha.test") -> str:
    """A fresh account for ``name``: a random tag keeps one test's accounts from another's."""
    return f"{name}{os.urandom(3).hex()}@{domain}"


async def new_device(folder: Path, account: str | None, server_url: str,
                     clock: Clock, provider: ProviderFactory = ProviderApi) -> Device:
    dev = Device.init(folder, PASS, engine=engine(), kdf=CHEAP, provider=provider)
    if account is not None:
        await dev.register(account, server_url, clock())
    return dev


def run_cli(profile: Path, *args: str, timeout: float = 120, input: str | None = None,
            clock_at_ms: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``accord ARGS`` as a real process on ``profile`` (the test passphrase);
    ``input``: what is typed on its stdin; ``clock_at_ms``: see :func:`accord_argv`."""
    full_env = dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS,
                    COLUMNS="200", **env)
    return subprocess.run([*accord_argv(clock_at_ms), *args], env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


class Listener:
    """``accord listen ARGS`` as a real process, its output read on threads.

    ``wait_ready()`` returns once the first line, the banner, is out: the banner comes
    after the catch-up sync, and the push session resumes after the cursor that sync
    left, so whatever is sent after it reaches the listener (no sleeping on a guess).
    """

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from accord.cli.main import main; main()", "listen", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._ready = threading.Event()
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.out),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.err),
                                          daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)
            if into is self.out:
                self._ready.set()
        self._ready.set()  # the process ended before its banner: wait_ready says so

    def wait_ready(self, timeout_s: float) -> None:
        if not self._ready.wait(timeout_s) or not self.out:
            self.proc.kill()
            raise AssertionError(f"the listener printed no banner: {''.join(self.err)[-2000:]}")

    def finish(self, timeout_s: float) -> tuple[str, str]:
        """Wait for the process to end by itself (its --duration); its stdout and stderr."""
        self.proc.wait(timeout_s)
        for reader in self._readers:
            reader.join(timeout_s)
        return "".join(self.out), "".join(self.err)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def accord(profile: Path | None, *args: str, passphrase: str | None = PASS,
           check: bool = True, stdin: str = "", columns: int = 200,
           timeout: float = CLI_TIMEOUT_S, clock_at_ms: int | None = None
           ) -> subprocess.CompletedProcess[str]:
    """``accord ARGS`` as a real process on ``profile`` (None: none named) unlocked by
    ``passphrase`` (None: none given, so a prompt meets ``stdin``, by default the end of
    input); with ``check`` it must succeed; ``clock_at_ms``: see :func:`accord_argv`."""
    env = {k: v for k, v in os.environ.items() if k not in ("ACCORD_PROFILE", "ACCORD_PASSPHRASE")}
    env["COLUMNS"] = str(columns)
    if profile is not None:
        env["ACCORD_PROFILE"] = str(profile)
    if passphrase is not None:
        env["ACCORD_PASSPHRASE"] = passphrase
    proc = subprocess.run([*accord_argv(clock_at_ms), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, input=stdin)
    if check:
        assert proc.returncode == 0, (args, proc.stderr, proc.stdout)
    return proc


def accord_json(profile: Path | None, *args: str, **kw: Any) -> Any:
    """What ``accord ARGS --json`` printed, decoded."""
    return json.loads(accord(profile, *args, "--json", **kw).stdout)


def accept_request(profile: Path, sender: str, passphrase: str = PASS,
                   timeout_s: float = 60.0) -> dict[str, Any]:
    """Accept through the CLI the message request from ``sender`` on ``profile`` (T14: a
    first invitation from a stranger, of any provider, waits for this), once it came."""
    wait_until_sync(lambda: any(r["from"] == sender for r in accord_json(
        profile, "requests", "list", passphrase=passphrase)), timeout_s,
        f"a message request from {sender}", poll_s=0.25)
    return dict(accord_json(profile, "requests", "accept", sender, passphrase=passphrase))
