"""Start and stop the ts-mls MLSClient peer (tests/interop/tsmls/server.mjs) for tests.

Each peer is a real `node` process listening on 127.0.0.1 on a port the OS picks
(`--port 0`); the process prints the port it bound, so no port is guessed. Startup
waits a bounded time, and `stop` always ends the process (TERM, then KILL).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

PEER_DIR = Path(__file__).resolve().parent / "tsmls"
SERVER = PEER_DIR / "server.mjs"
START_TIMEOUT = 30.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_node() -> str:
    """The node binary; a missing toolchain skips the test, or fails it under CI=true."""
    node = shutil.which("node")
    problem = None
    if node is None or shutil.which("npm") is None:
        problem = "node and npm are needed for the ts-mls interop peer"
    elif not (PEER_DIR / "node_modules" / "ts-mls").is_dir():
        problem = "the ts-mls peer is not installed: run `npm ci` in tests/interop/tsmls (make test does)"
    if problem is not None:
        if in_ci():
            pytest.fail(f"CI=true: {problem}")
        pytest.skip(problem)
    assert node is not None
    return node


@dataclass
class Peer:
    process: subprocess.Popen[bytes]
    address: str
    log: IO[str]

    def stderr_text(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


def start_peer(node: str) -> Peer:
    return start_server([node, str(SERVER), "--port", "0", "--host", "127.0.0.1"], PEER_DIR, "ts-mls peer")


def start_server(argv: list[str], cwd: Path, what: str) -> Peer:
    """Start any MLSClient server that follows the peer's start-up contract.

    The contract (`accord interop serve` is meant to follow it too): given
    `--port 0` it binds a free port on 127.0.0.1 and prints exactly one line
    `listening on HOST:PORT` on stdout once it accepts connections.
    """
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by Peer.stop
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=log)
    peer = Peer(proc, "", log)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buffer = b""
        while time.monotonic() < deadline and b"\n" not in buffer:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}: {peer.stderr_text()}")
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                buffer += os.read(fd, 4096)
        line = buffer.decode(errors="replace").split("\n", 1)[0]
        if not line.startswith("listening on "):
            raise RuntimeError(f"{what} did not start within {START_TIMEOUT:g}s (said {line!r})")
        peer.address = line.removeprefix("listening on ").strip()
        return peer
    except BaseException:
        peer.stop()
        raise


@contextmanager
def peers(count: int) -> Iterator[list[Peer]]:
    node = require_node()
    started: list[Peer] = []
    try:
        for _ in range(count):
            started.append(start_peer(node))
        yield started
    finally:
        for p in started:
            p.stop()


def start_accord(*quirks: str) -> Peer:
    """`accord interop serve --port 0` in its own process (same start-up contract),
    with the given `--peer-quirk`s (none: RFC 9420 behaviour throughout)."""
    import sys

    argv = [sys.executable, "-c", "from accord.cli.main import main; main()",
            "interop", "serve", "--host", "127.0.0.1", "--port", "0"]
    for quirk in quirks:
        argv += ["--peer-quirk", quirk]
    return start_server(argv, PEER_DIR.parents[2], "accord interop serve")
