"""The demo's provider process (``local_server``) with a scripted process and health
answer in place of a child process and HTTP: what it runs (loopback only), how long
it waits, and that it always stops what it started."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client import local_server
from accord.errors import AccordError


class _Process:
    def __init__(self, exit_after_polls: int | None = None, ignores_term: bool = False) -> None:
        self.exit_after = exit_after_polls
        self.polls = 0
        self.ignores_term = ignores_term
        self.signals: list[int] = []
        self.killed = False
        self.returncode: int | None = None

    def poll(self) -> int | None:
        self.polls += 1
        if self.exit_after is not None and self.polls > self.exit_after:
            self.returncode = 1
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if not self.ignores_term:
            self.returncode = 0

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            raise subprocess.TimeoutExpired("accord", timeout or 0)
        return self.returncode

    def kill(self) -> None:
        self.killed = True
        self.returncode = -9


def _server(tmp_path: Path, proc: _Process) -> local_server.LocalServer:
    return local_server.LocalServer("http://127.0.0.1:1", "alpha.test", tmp_path, proc,  # type: ignore[arg-type]
                                    tmp_path / "log")


def test_stop_terms_then_kills_and_leaves_an_exited_process_alone(tmp_path: Path) -> None:
    polite = _Process()
    _server(tmp_path, polite).stop()
    assert polite.signals == [signal.SIGTERM] and not polite.killed
    stubborn = _Process(ignores_term=True)
    _server(tmp_path, stubborn).stop()
    assert stubborn.signals == [signal.SIGTERM] and stubborn.killed
    gone = _Process(exit_after_polls=0)
    _server(tmp_path, gone).stop()
    assert gone.signals == [] and not gone.killed


def test_waiting_for_health_is_bounded_and_notices_an_early_exit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(local_server.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(local_server.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    answers: list[Any] = [httpx.ConnectError("refused"), httpx.Response(503),
                          httpx.Response(200)]

    def get(url: str, timeout: float) -> httpx.Response:
        assert url == "http://127.0.0.1:1/healthz"
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(local_server.http_client, "get", get)
    local_server._wait_healthy(_server(tmp_path, _Process()), 5.0)
    assert answers == [] and clock[0] == pytest.approx(0.2)
    monkeypatch.setattr(local_server.http_client, "get", lambda url, timeout: httpx.Response(503))
    with pytest.raises(AccordError, match="did not answer within 2 s"):
        local_server._wait_healthy(_server(tmp_path, _Process()), 2.0)
    with pytest.raises(AccordError, match="exited early"):
        local_server._wait_healthy(_server(tmp_path, _Process(exit_after_polls=2)), 60.0)


def test_start_runs_a_loopback_provider_and_stops_it_when_the_wait_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[list[str], _Process]] = []

    def popen(cmd: list[str], **kw: Any) -> _Process:
        proc = _Process()
        started.append((cmd, proc))
        return proc

    monkeypatch.setattr(local_server.subprocess, "Popen", popen)
    monkeypatch.setattr(local_server, "_wait_healthy", lambda server, timeout: None)
    with local_server.running_server(tmp_path / "data", "alpha.test", port=8411,
                                     database="postgresql://db/x") as server:
        assert server.url == "http://127.0.0.1:8411"
        assert (tmp_path / "data").is_dir() and server.log_path == tmp_path / "server-alpha.test.log"
    cmd, proc = started[0]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"  # loopback only
    assert cmd[cmd.index("--port") + 1] == "8411"
    assert cmd[cmd.index("--database") + 1] == "postgresql://db/x"
    assert proc.signals == [signal.SIGTERM]  # stopped on leaving the block

    def never(server: local_server.LocalServer, timeout: float) -> None:
        raise AccordError("the provider did not answer")

    monkeypatch.setattr(local_server, "_wait_healthy", never)
    with pytest.raises(AccordError):
        local_server.start_server(tmp_path / "d2", "beta.test", port=8412)
    cmd, proc = started[1]
    assert "--database" not in cmd and proc.signals == [signal.SIGTERM]
