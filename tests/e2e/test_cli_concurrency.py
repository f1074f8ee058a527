"""Two commands at once on one profile (issue 19): real CLI processes on one profile.

Without the profile's writer lock both processes encrypt with the same MLS
sender generation (RFC 9420 9.1) and the recipient can decrypt only one of the
messages; with it, every message arrives and decrypts.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from accord.client import conversations as convs
from accord.client.device import Device
from accord.client.profile_lock import WriterLock
from tests.e2e.helpers import PASS, Clock, engine, new_device
from tests.federation.groups import arrive

SENDERS = 4
CLI_TIMEOUT_S = 120


def _env(profile: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS, COLUMNS="200",
                **extra)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from accord.cli.main import main; main()", *args]


async def _pair(server, tmp_path: Path, clock: Clock) -> str:
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "alice", f"alice{tag}@alpha.test", server.url, clock)
    bob = await new_device(tmp_path / "bob", f"bob{tag}@alpha.test", server.url, clock)
    account = bob.identity.account
    await convs.create(alice, "pair", [account], clock())
    for dev in (alice, bob):
        await dev.disconnect()
        dev.close()
    return account


async def _received(folder: Path, clock: Clock) -> tuple[list[str], list[dict]]:
    bob = Device.open(folder, PASS, engine=engine())
    try:
        await bob.connect()
        conv = await arrive(bob, "pair", clock)
        texts = [x.body for x in bob.store.messages(conv["conv_id"])]
        return texts, [e for e in bob.store.events(conv["conv_id"]) if e["kind"] == "error"]
    finally:
        await bob.disconnect()
        bob.close()


def test_concurrent_sends_on_one_profile_all_arrive(server, tmp_path) -> None:
    clock = Clock()
    asyncio.run(_pair(server, tmp_path, clock))
    procs = [subprocess.Popen(_cli("send", "pair", f"message {i}", "--json"),
                              env=_env(tmp_path / "alice"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(SENDERS)]
    for p in procs:
        out, err = p.communicate(timeout=CLI_TIMEOUT_S)
        assert p.returncode == 0, err + out
    texts, errors = asyncio.run(_received(tmp_path / "bob", clock))
    assert errors == []
    assert sorted(texts) == [f"message {i}" for i in range(SENDERS)]


def test_a_command_waits_for_the_lock_then_says_busy(server, tmp_path) -> None:
    clock = Clock()
    asyncio.run(_pair(server, tmp_path, clock))
    held = WriterLock(tmp_path / "alice")
    held.acquire(0)
    try:
        p = subprocess.run(_cli("send", "pair", "not now"), env=_env(
            tmp_path / "alice", ACCORD_LOCK_WAIT="0.5"), capture_output=True, text=True,
            timeout=CLI_TIMEOUT_S)
    finally:
        held.release()
    assert p.returncode == 1
    assert f"another accord command (pid {os.getpid()}) is using this profile" in p.stderr
    assert "try again when it has finished" in p.stderr
    texts, _ = asyncio.run(_received(tmp_path / "bob", clock))
    assert "not now" not in texts
