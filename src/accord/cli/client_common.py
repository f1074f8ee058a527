"""What every client command shares: the profile options, the passphrase, the clock,
opening the device, and printing (rich for people, ``--json`` for scripts).

The CLI only drives ``accord.client``: it reads the clock and passes ``now``,
and it never prints a key, token or passphrase.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from accord.cli import agent
from accord.cli.safe_text import shown
from accord.client.api import DeviceRemoved, ServerError
from accord.client.device import Device
from accord.client.profile_lock import DEFAULT_WAIT_S
from accord.client.store import WrongPassphrase
from accord.errors import AccordError, NotFound, RateLimited

T = TypeVar("T")
# No :emoji: codes and no highlighting: peer text is shown as it is (safe_text).
console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)
DEFAULT_PROFILE = Path("~/.accord/default")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def profile_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--profile``, ``--passphrase-file`` and ``--json`` on a command."""
    fn = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)
    fn = click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
                      default=None, help="Read the profile passphrase from this file "
                      "(else $ACCORD_PASSPHRASE, else a prompt).")(fn)
    fn = click.option("--profile", "profile", type=click.Path(file_okay=False, path_type=Path),
                      envvar="ACCORD_PROFILE", default=None,
                      help="Profile folder (default ~/.accord/default, or $ACCORD_PROFILE).")(fn)
    return fn


def profile_dir(profile: Path | None) -> Path:
    # ctx.invoke (``accord devices`` alone) passes defaults without reading envvars.
    env = os.environ.get("ACCORD_PROFILE")
    return (profile or (Path(env) if env else DEFAULT_PROFILE)).expanduser()


def passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    if passphrase_file is not None:
        return passphrase_file.read_text().rstrip("\r\n")
    env = os.environ.get("ACCORD_PASSPHRASE")
    if env:
        return env
    return str(click.prompt("Profile passphrase", hide_input=True,
                            confirmation_prompt=confirm))


def lock_options() -> dict[str, Any]:
    """How long a command waits for another one using the same profile
    (``$ACCORD_LOCK_WAIT`` seconds, default 60), and what it says meanwhile."""
    try:
        wait = float(os.environ.get("ACCORD_LOCK_WAIT", DEFAULT_WAIT_S))
    except ValueError:
        raise click.UsageError("ACCORD_LOCK_WAIT is a number of seconds") from None

    def on_wait(holder: str) -> None:
        err_console.print(f"[yellow]waiting:[/yellow] another accord command ({holder}) is "
                          f"using this profile; waiting up to {wait:g} s")

    return {"lock_wait": wait, "on_wait": on_wait}


def open_device(profile: Path | None, passphrase_file: Path | None) -> Device:
    """Open the profile: with the key ``accord agent`` holds, if one runs for it (no
    prompt, no Argon2id), else with the passphrase (an explicit --passphrase-file wins)."""
    folder = profile_dir(profile)
    if passphrase_file is None:
        key = agent.key_for(folder)
        if key is not None:
            try:
                return Device.open_with_key(folder, key, **lock_options())
            except WrongPassphrase:  # the profile was re-keyed since the agent started
                pass
    return Device.open(folder, passphrase(passphrase_file), **lock_options())


def run(coro: Awaitable[T]) -> T:
    """Run one command's coroutine; typed errors become a message and exit status 1."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except AccordError as exc:
        err_console.print(f"[red]error:[/red] {shown(exc)}{wait_hint(exc)}")
        raise SystemExit(1) from None


def wait_hint(exc: BaseException) -> str:
    """A rate limit says how long to wait (the server's ``Retry-After``, RFC 9110 10.2.3)."""
    wait_ms = getattr(exc, "retry_after_ms", None)
    if not isinstance(exc, RateLimited) or wait_ms is None:
        return ""
    return f" (rate limited: try again in {max(1, -(-wait_ms // 1000))} s)"


def text_arg(text: str) -> str:
    """A message text as given: ``-`` reads it from stdin; CRLF (and lone CR) line
    endings become LF, so text from Windows files and terminals reads the same."""
    if text == "-":
        text = click.get_text_stream("stdin").read()
        text = text.removesuffix("\r\n").removesuffix("\n")  # the shell's final newline
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _device_command(fn: Callable[..., Awaitable[Any]],
                    prepare: Callable[[Device], Awaitable[None]]) -> Callable[..., Any]:
    """Open the profile, ``prepare(dev)``, call ``fn(dev, **kw)``, always close."""

    @functools.wraps(fn)
    def wrapper(profile: Path | None, passphrase_file: Path | None, as_json: bool,
                **kw: Any) -> None:
        async def go() -> Any:
            dev = open_device(profile, passphrase_file)
            detach = attach_alerts(dev)  # security alerts are printed first, and at once
            try:
                await prepare(dev)
                return await fn(dev, as_json=as_json, **kw)
            finally:
                detach()
                await dev.disconnect()
                dev.close()

        run(go())

    return wrapper


def attach_alerts(dev: Device) -> Callable[[], None]:
    """Print the unseen security alerts now (stderr, red), and every new one as it is
    raised; returns detach. Every command that opens the profile does this (issue 7)."""
    from accord.client import alerts

    def show(store: Any, alert: dict[str, Any]) -> None:
        if store is dev.store:
            err_console.print(f"[bold red]{shown(alerts.describe(alert))}[/bold red]")
            alerts.mark_seen(store, [alert["id"]])

    for alert in alerts.pending(dev.store):
        show(dev.store, alert)
    return alerts.subscribe(show)


def with_device(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Open the profile, connect and catch up, call ``fn(dev, **kw)``, always close."""
    return _device_command(fn, _catch_up)


POST_JITTER_S = (0.5, 3.0)


def post_jitter() -> float:
    """A random wait between an authenticated sync and a hidden-sender post."""
    lo, hi = POST_JITTER_S
    return lo + (hi - lo) * secrets.randbelow(1_000_001) / 1_000_000


async def _ready_to_post(dev: Device) -> None:
    dev.post_jitter = post_jitter
    await dev.connect(lazy=True)


def posting_device(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Like ``with_device`` for the commands that post (send, react, edit, delete):
    the hidden-sender post goes first, from what the device holds, with no login
    and no sync before it (issue 18, T11). The session is opened only if a request
    needs it (``find_for_post``, an epoch conflict), and the post after it waits
    ``post_jitter`` seconds; nothing syncs after the post (``read``/``listen`` do)."""
    return _device_command(fn, _ready_to_post)


async def find_for_post(dev: Device, look: Callable[[], T]) -> T:
    """What a post needs from the device (``look``: the conversation, the message it
    answers). What the device does not know yet (an invitation or a message not
    fetched) costs a sync first, and then the random wait before the post."""
    try:
        return look()
    except NotFound:
        await _catch_up(dev)
        found = look()
        await asyncio.sleep(post_jitter())
        return found


async def _catch_up(dev: Device) -> None:
    """Connect and sync; without the provider, go on with what the device holds
    (reading and searching work offline; what is sent waits in the outbox)."""
    try:
        await dev.connect(now=now_ms())  # a session saved by the last command is reused
        await dev.sync(now_ms())
    except (ServerError, RateLimited) as exc:
        err_console.print(f"[yellow]offline:[/yellow] {shown(exc)}; showing what this device has")
    except DeviceRemoved as exc:
        # Reading and searching go on from what the device holds (issue 19); a command
        # that needs the provider fails with this same message.
        await dev.disconnect()
        err_console.print(f"[yellow]removed:[/yellow] {shown(exc)}")


def suite_text(suite: dict[str, object]) -> str:
    """How a conversation's cipher suite (``conversations.suite_of``) is shown (T10)."""
    if suite["cipher_suite"] is None:
        return "no keys (left)"
    pq = "post-quantum" if suite["post_quantum"] else "not post-quantum"
    return f"suite {suite['cipher_suite']} ({pq})"


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=_jsonable))
    else:
        human()


def print_lines(lines: list[str], empty: str = "") -> None:
    for line in lines:
        console.print(line)
    if not lines and empty:
        console.print(empty)


def emit_rows(as_json: bool, rows: list[Any], line: Callable[[Any], str],
              empty: str = "") -> None:
    """A listing's answer: the rows as JSON, or ``line(row)`` for each row and ``empty``
    when there are none."""
    emit(as_json, rows, lambda: print_lines([line(r) for r in rows], empty))


def listing_group(name: str, help: str) -> click.Group:
    """A command group that runs its ``list`` subcommand when given none."""

    @click.group(name, invoke_without_command=True, help=help)
    @click.pass_context
    def group(ctx: click.Context) -> None:
        if ctx.invoked_subcommand is None:
            ctx.invoke(group.commands["list"])

    return group


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot encode {type(value).__name__}")


def fmt_time(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))
