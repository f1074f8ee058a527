"""``accord agent start|stop|status``: unlock once per session (see accord.cli.agent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from accord.cli import agent as agent_lib
from accord.cli.client_common import console, emit, passphrase, profile_dir, profile_options, run

START_TIMEOUT_S = 10.0


@click.group("agent")
def agent() -> None:
    """Unlock once per session: a local agent holds the profile key for a while."""


@agent.command("start")
@click.option("--timeout", "timeout", default="15m", show_default=True,
              help="How long the agent holds the key: 90s, 15m, 2h, 1d.")
@profile_options
def start_cmd(timeout: str, profile: Path | None, passphrase_file: Path | None,
              as_json: bool) -> None:
    """Ask for the passphrase once; commands then open the profile without it."""
    try:
        seconds = agent_lib.parse_timeout(timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeout") from None
    folder = profile_dir(profile)
    path = agent_lib.socket_path(folder)
    if agent_lib.ask(path, b"status") is not None:
        raise click.UsageError("an agent already holds this profile's key; "
                               "`accord agent stop` first")
    key = run(_derive(folder, passphrase(passphrase_file)))
    _spawn(path, seconds, key)
    emit(as_json, {"socket": str(path), "seconds": seconds},
         lambda: console.print(f"agent started: the profile stays unlocked for {timeout} "
                               "(`accord agent stop` to lock it now)"))


async def _derive(folder: Path, words: str) -> bytes:
    """The profile key, checked against the profile (a wrong passphrase fails here)."""
    from accord.client.store import ProfileStore

    store = ProfileStore.load(folder)
    key = store.derive(words)
    store.unlock_key(key)
    store.lock()
    return key


def _spawn(path: Path, seconds: int, key: bytes) -> None:
    # The key goes through a pipe: not argv, not the environment, not a file.
    proc = subprocess.Popen(
        [sys.executable, "-c", "from accord.cli.agent import daemon_main; daemon_main()",
         str(path), str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(key.hex() + "\n")
    proc.stdin.close()
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise click.ClickException("the agent did not start")
    proc.stdout.close()


@agent.command("stop")
@profile_options
def stop_cmd(profile: Path | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Wipe the key from the agent and stop it."""
    stopped = agent_lib.ask(agent_lib.socket_path(profile_dir(profile)), b"stop") is not None
    emit(as_json, {"stopped": stopped}, lambda: console.print(
        "agent stopped" if stopped else "no agent was running for this profile"))


@agent.command("status")
@profile_options
def status_cmd(profile: Path | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Whether an agent holds this profile's key, and for how long still."""
    got = agent_lib.ask(agent_lib.socket_path(profile_dir(profile)), b"status")
    left = int(got) if got else 0
    emit(as_json, {"running": got is not None, "seconds_left": left}, lambda: console.print(
        f"agent running, {left} s left" if got is not None else "no agent"))
