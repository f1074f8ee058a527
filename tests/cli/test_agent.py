"""issue 19: unlock once per session (``accord agent``) and passphrase strength at init."""

from __future__ import annotations

import functools
import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from accord.cli import agent
from accord.client.store import ProfileStore
from tests.e2e import helpers

PASSPHRASE = "agent test passphrase"


accord = functools.partial(helpers.accord, passphrase=PASSPHRASE)  # passphrase=None: none


def test_agent_unlocks_once_and_stop_locks_again(server, tmp_path) -> None:
    alice = tmp_path / "alice"
    accord(alice, "init")
    accord(alice, "register", f"agent{os.urandom(3).hex()}@alpha.test", "--server", server.url)
    locked = accord(alice, "chat", "list", passphrase=None, check=False)
    assert locked.returncode == 1 and "Profile passphrase" in locked.stdout + locked.stderr

    accord(alice, "agent", "start", "--timeout", "10m")
    try:
        sock = agent.socket_path(alice)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        # no passphrase anywhere: the agent's key opens the profile
        assert accord(alice, "chat", "list", "--json", passphrase=None).stdout.strip() == "[]"
        assert "agent running" in accord(alice, "agent", "status", passphrase=None).stdout
        again = accord(alice, "agent", "start", check=False)
        assert again.returncode == 2 and "already holds" in again.stderr
        # the key is nowhere on disk in the profile
        key = ProfileStore.load(alice).derive(PASSPHRASE)
        for f in alice.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                assert key not in data and key.hex().encode() not in data, f
    finally:
        stopped = accord(alice, "agent", "stop", passphrase=None)
    assert stopped.stdout.strip() == "agent stopped"
    assert not agent.socket_path(alice).exists()
    relocked = accord(alice, "chat", "list", passphrase=None, check=False)
    assert relocked.returncode == 1


def test_agent_start_with_a_wrong_passphrase_starts_nothing(tmp_path) -> None:
    bob = tmp_path / "bob"
    accord(bob, "init")
    proc = accord(bob, "agent", "start", passphrase="not the passphrase at all", check=False)
    assert proc.returncode == 1 and "wrong passphrase" in proc.stderr
    assert not agent.socket_path(bob).exists()


def _serve(folder: Path, state: agent.AgentState) -> tuple[Path, threading.Thread]:
    folder.mkdir()
    path = folder / "a.sock"
    server = agent.listen(path)
    thread = threading.Thread(target=agent.serve, args=(server, path, state), daemon=True)
    thread.start()
    return path, thread


def test_agent_answers_only_its_own_uid_by_so_peercred(tmp_path) -> None:
    """A peer whose kernel-reported uid is not the agent's gets nothing. (We cannot
    become another user here, so the agent is told to serve another uid: our real
    uid, read with SO_PEERCRED, must then be refused.)"""
    key = bytes(range(32))
    other = agent.AgentState(key, 60, uid=os.getuid() + 1)
    path, thread = _serve(tmp_path / "other", other)
    assert agent.ask(path, b"key") is None
    assert agent.ask(path, b"stop") is None  # nor can it stop the agent
    assert agent.ask(path, b"status") is None
    assert not other.stopped
    # an agent serving our uid answers the same requests
    path2, thread2 = _serve(tmp_path / "ours", agent.AgentState(key, 60))
    assert agent.ask(path2, b"key") == key.hex().encode()
    assert agent.ask(path2, b"stop") == b""
    thread2.join(5)
    assert not path2.exists()
    other.wipe()
    with socket.socket(socket.AF_UNIX) as s:  # wake the refusing agent so it ends
        s.connect(str(path))
    thread.join(5)


def test_agent_forgets_the_key_when_its_time_is_up() -> None:
    now = [1000.0]
    state = agent.AgentState(b"k" * 32, 900, clock=lambda: now[0])
    assert state.answer(b"key\n", os.getuid()) == b"ok " + (b"k" * 32).hex().encode() + b"\n"
    now[0] += 899
    assert state.answer(b"status\n", os.getuid()) == b"ok 1\n"
    now[0] += 1
    assert state.answer(b"key\n", os.getuid()) == b"no\n"
    assert state.stopped and bytes(state._key) == bytes(32)  # wiped


def test_timeouts_parse_with_units() -> None:
    assert [agent.parse_timeout(t) for t in ("90", "90s", "15m", "2h", "1d")] == [
        90, 90, 900, 7200, 86400]
    for bad in ("0", "8d", "15 minutes", "-1m", ""):
        with pytest.raises(ValueError):
            agent.parse_timeout(bad)


def test_init_refuses_a_very_weak_passphrase_unless_weak_ok(tmp_path) -> None:
    weak = accord(tmp_path / "w", "init", passphrase="password", check=False)
    assert weak.returncode == 2
    assert "very weak (strength 0/4)" in weak.stderr
    assert not (tmp_path / "w").exists()
    ok = accord(tmp_path / "w", "init", "--weak-ok", passphrase="password")
    assert "passphrase strength 0/4" in ok.stderr
    strong = accord(tmp_path / "s", "init", passphrase="correct horse battery staple")
    assert "passphrase strength 4/4" in strong.stderr
