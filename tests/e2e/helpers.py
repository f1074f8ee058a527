"""Devices for end-to-end tests: cheap Argon2id, the test clock, the RFC 9420 engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from accord.client.device import Device
from accord.client.mls_session import MlsEngine, default_engine
from accord.client.store import KdfParams

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


async def new_device(folder: Path, account: str | None, server_url: str,
                     clock: Clock) -> Device:
    dev = Device.init(folder, PASS, engine=engine(), kdf=CHEAP)
    if account is not None:
        await dev.register(account, server_url, clock())
    return dev


def run_cli(profile: Path, *args: str, timeout: float = 120, input: str | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
    """``accord ARGS`` as a real process on ``profile`` (the test passphrase);
    ``input``: what is typed on its stdin."""
    full_env = dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS,
                    COLUMNS="200", **env)
    return subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           *args], env=full_env, capture_output=True, text=True,
                          timeout=timeout, input=input)
