"""The inbox (issue 19): ``chat list|archive|unarchive|delete``, ``contacts nick``
and ``profile name``. Every peer-chosen string is printed through ``shown``."""

from __future__ import annotations

import click

from accord.cli.client_common import (
    console,
    emit,
    emit_rows,
    fmt_time,
    now_ms,
    profile_options,
    suite_text,
    with_device,
)
from accord.cli.safe_text import shown
from accord.client import contacts, overview
from accord.client import conversations as convs
from accord.client.device import Device


@click.command("list")
@click.option("--archived", is_flag=True, help="Show the archived conversations instead.")
@click.option("--all", "show_all", is_flag=True, help="Show archived ones too.")
@profile_options
@with_device
async def list_cmd(dev: Device, as_json: bool, archived: bool, show_all: bool) -> None:
    """Your conversations, newest activity first, with unread counts and members."""
    rows = overview.summaries(dev, archived=None if show_all else archived)
    for r in rows:
        r["member_labels"] = [contacts.label(dev, a) for a in r["members"]]
        r["pending"] = len(dev.store.outbox(str(r["id"])))  # not delivered yet (issue 19)
        if r["request"] and r["members"] == [r["request_from"]]:
            continue  # a waiting request: no group yet (T14, invites)
        r.update(convs.suite_of(dev, dev.store.conversation(r["id"])))
    emit_rows(as_json, rows, _row_line,
              "no conversations" if archived or show_all else "no conversations yet")


def _row_line(r: dict[str, object]) -> str:
    unread = f"[bold cyan]{r['unread']} unread[/bold cyan]" if r["unread"] else "[dim]read[/dim]"
    line = (f"{shown(r['id'])}  [bold]{shown(r['name'])}[/bold]  {unread}  "
            f"[dim]{fmt_time(int(r['last_activity']))}[/dim]")  # type: ignore[call-overload]
    if r["pending"]:
        line += f"  [yellow]{r['pending']} not delivered[/yellow]"
    if r["request"]:
        line += f"  [yellow]REQUEST from {shown(r['request_from'])}[/yellow]"
    if r["archived"]:
        line += "  [dim](archived)[/dim]"
    if not r["active"]:
        line += "  [dim](left)[/dim]"
    else:
        line += "  " + shown(", ".join(r["member_labels"]))  # type: ignore[arg-type]
        line += f"  [dim]{shown(suite_text(r))}[/dim]"
    return line


def _archiving(name: str, archived: bool, help: str) -> click.Command:
    """``chat archive`` or ``chat unarchive``: they differ only in the flag they set."""

    @click.command(name, help=help)
    @click.argument("chat_name")
    @profile_options
    @with_device
    async def command(dev: Device, as_json: bool, chat_name: str) -> None:
        conv = convs.find(dev, chat_name)
        overview.set_archived(dev, conv, archived)
        emit(as_json, {"id": conv["conv_id"], "archived": archived},
             lambda: console.print(f"{name}d {shown(conv['name'])}"))

    return command


archive_cmd = _archiving("archive", True,
                         "Hide CHAT from `chat list` (on this device; it keeps receiving).")
unarchive_cmd = _archiving("unarchive", False, "Show CHAT in `chat list` again.")


@click.command("delete")
@click.argument("chat_name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@profile_options
@with_device
async def delete_cmd(dev: Device, as_json: bool, chat_name: str, yes: bool) -> None:
    """Delete CHAT and its history from this device (leaving it first if you are in it)."""
    conv = convs.find(dev, chat_name)
    n = len(dev.store.messages(conv["conv_id"], 1_000_000))
    active = conv["meta"].get("active", True)
    if not yes:
        what = f"Delete {shown(conv['name'])} ({conv['conv_id']}) and its {n} messages here"
        what += ", leaving it first?" if active else "?"
        if not click.confirm(click.unstyle(what), default=False):
            raise click.Abort()
    left = await overview.delete_local(dev, conv, now_ms())
    emit(as_json, {"id": conv["conv_id"], "deleted": True, "left": left},
         lambda: console.print(f"deleted {shown(conv['name'])}"
                               + (" (you left it)" if left else "")))


CHAT_COMMANDS = [list_cmd, archive_cmd, unarchive_cmd, delete_cmd]


@click.command("nick")
@click.argument("account")
@click.argument("nick", default="")
@profile_options
@with_device
async def nick_cmd(dev: Device, as_json: bool, account: str, nick: str) -> None:
    """Call ACCOUNT by NICK on this device (no NICK: remove it). Nobody else sees it."""
    contacts.set_nickname(dev, account, nick or None)
    emit(as_json, {"account": account, "nick": nick or None},
         lambda: console.print(f"{shown(account)} is now {shown(nick)}" if nick
                               else f"removed the nickname of {shown(account)}"))


@click.group("profile")
def profile() -> None:
    """What others see of you (sent end to end encrypted to your conversations)."""


@profile.command("name")
@click.argument("name", default="")
@profile_options
@with_device
async def name_cmd(dev: Device, as_json: bool, name: str) -> None:
    """Set your display name to NAME and tell your conversations (no NAME: show it)."""
    if not name:
        current = contacts.display_name(dev)
        emit(as_json, {"display_name": current},
             lambda: console.print(shown(current) if current else "no display name set"))
        return
    told = await overview.set_display_name(dev, name, now_ms())
    emit(as_json, {"display_name": contacts.display_name(dev), "conversations": told},
         lambda: console.print(f"display name set; told {told} conversation(s)"))
CONTACTS_COMMANDS = [nick_cmd]
