"""A provider process on loopback, for the demo and end-to-end tests.

Starts ``accord server`` as a child process on 127.0.0.1 and a free port,
waits (bounded) until ``/healthz`` answers, and always stops the process:
SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from accord import http_client
from accord.errors import AccordError

START_TIMEOUT_S = 20.0
STOP_GRACE_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalServer:
    url: str
    domain: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_GRACE_S)


def start_server(data_dir: Path, domain: str, *, log_path: Path | None = None,
                 port: int | None = None, timeout: float = START_TIMEOUT_S,
                 database: str | None = None) -> LocalServer:
    """Start a provider for ``domain`` with its data under ``data_dir`` (and in the
    PostgreSQL ``database`` when given); wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = log_path or data_dir.parent / f"server-{domain}.log"
    cmd = [sys.executable, "-c", "from accord.cli.main import main; main()", "server",
           "--data", str(data_dir), "--host", "127.0.0.1", "--port", str(port),
           "--domain", domain, "--rate-limit-scale", "50"]
    if database:
        cmd += ["--database", database]
    log = open(log_path, "wb")  # noqa: SIM115 - the child writes to it until stop()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    log.close()
    server = LocalServer(f"http://127.0.0.1:{port}", domain, data_dir, proc, log_path)
    try:
        _wait_healthy(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_healthy(server: LocalServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AccordError(f"the provider exited early; see {server.log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if http_client.get(server.url + "/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise AccordError(f"the provider did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def running_server(data_dir: Path, domain: str, **kw: object) -> Iterator[LocalServer]:
    server = start_server(data_dir, domain, **kw)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
