"""``accord chat new|list|info|members|add|remove|leave|rename|admins|timer|upgrade``."""

from __future__ import annotations

import click

from accord.cli.client_common import (
    console,
    emit,
    now_ms,
    print_lines,
    profile_options,
    suite_text,
    with_device,
)
from accord.cli.safe_text import shown
from accord.cli.verify_cmd import adding, confirm_option
from accord.client import conversations as convs
from accord.client import messaging, reinit, rooms, safety
from accord.client.device import Device


@click.group("chat")
def chat() -> None:
    """Conversations (each one an MLS group of every device of every member)."""


@chat.command("new")
@click.argument("name")
@click.argument("members", nargs=-1)
@click.option("--message", "-m", default="",
              help="A first message. Invitees who do not know you yet see its first line"
                   " (at most 200 characters, sealed to their device) in their requests.")
@confirm_option
@profile_options
@with_device
async def new_cmd(dev: Device, as_json: bool, name: str, members: tuple[str, ...],
                  message: str, confirm_key_change: bool = False) -> None:
    """Create conversation NAME with MEMBERS (accounts); one member makes a 1:1 chat."""
    kind = "direct" if len(members) == 1 else "group"
    conv = await adding(confirm_key_change, lambda ok: convs.create(
        dev, name, list(members), now_ms(), kind, confirmed=ok, first_message=message))
    suite = convs.suite_of(dev, conv)
    emit(as_json, {"id": conv["conv_id"], "name": conv["name"], **suite},
         lambda: console.print(f"created [bold]{shown(conv['name'])}[/bold]"
                               f" ({shown(conv['conv_id'])}),"
                               f" {suite_text(suite)}"))



# T06: keys taken from a provider that offers no key transparency (a plain MIMI peer)
UNLOGGED_MARK = " [yellow]NOT TRANSPARENCY-CHECKED[/yellow]"
UNLOGGED_LINE = ("[yellow]not transparency-checked[/yellow] (their provider offers no key "
                 "transparency; compare safety numbers): ")


@chat.command("info")
@click.argument("chat_name")
@profile_options
@with_device
async def info_cmd(dev: Device, as_json: bool, chat_name: str) -> None:
    """One conversation: its id, kind, members and the cipher suite protecting it."""
    conv = convs.find(dev, chat_name)
    active = conv["meta"].get("active", True)
    row = {"id": conv["conv_id"], "name": conv["name"], "kind": conv["kind"], "active": active,
           "members": convs.members(dev, conv) if active else {}, **convs.suite_of(dev, conv),
           "not_transparency_checked": safety.unlogged_members(dev, conv) if active else [],
           **rooms.uris(dev, conv["group_id"])}
    emit(as_json, row, lambda: print_lines(
        [f"{shown(row['id'])}  [bold]{shown(row['name'])}[/bold]  ({shown(row['kind'])})",
         f"protected by: {suite_text(row)}"
         + (f" {shown(row['suite_name'])}" if row["suite_name"] else ""),
         "members: " + shown(", ".join(row["members"])),
         *([f"room: {shown(row['room_uri'])}  MLS group: {shown(row['group_uri'])}"]
           if "room_uri" in row else []),
         *([UNLOGGED_LINE + shown(", ".join(row["not_transparency_checked"]))]
           if row["not_transparency_checked"] else [])], ""))


@chat.command("members")
@click.argument("chat_name")
@profile_options
@with_device
async def members_cmd(dev: Device, as_json: bool, chat_name: str) -> None:
    """Every member of CHAT with each of their devices (from the MLS group itself)."""
    conv = convs.find(dev, chat_name)
    members = convs.members(dev, conv)
    admins = conv["meta"].get("admins", [])
    unlogged = safety.unlogged_members(dev, conv)
    emit(as_json, {"members": members, "admins": admins,
                   "not_transparency_checked": unlogged}, lambda: print_lines(
        [f"[bold]{shown(a)}[/bold]{' (admin)' if a in admins else ''}: {shown(', '.join(d))}"
         + (UNLOGGED_MARK if a in unlogged else "") for a, d in members.items()]))


@chat.command("add")
@click.argument("chat_name")
@click.argument("accounts", nargs=-1, required=True)
@confirm_option
@profile_options
@with_device
async def add_cmd(dev: Device, as_json: bool, chat_name: str, accounts: tuple[str, ...],
                  confirm_key_change: bool = False) -> None:
    """Add ACCOUNTS (all their devices) to CHAT."""
    conv = convs.find(dev, chat_name)
    n = await adding(confirm_key_change, lambda ok: convs.add_members(
        dev, conv, list(accounts), now_ms(), confirmed=ok))
    emit(as_json, {"accounts": list(accounts), "devices_added": n},
         lambda: console.print(f"added {people(accounts, n)}"))


@chat.command("remove")
@click.argument("chat_name")
@click.argument("account")
@profile_options
@with_device
async def remove_cmd(dev: Device, as_json: bool, chat_name: str, account: str) -> None:
    """Remove ACCOUNT (all its devices) from CHAT (admins only)."""
    n = await convs.remove_member(dev, convs.find(dev, chat_name), account, now_ms())
    emit(as_json, {"accounts": [account], "devices_removed": n},
         lambda: console.print(f"removed {people((account,), n)}"))


def people(accounts: tuple[str, ...], devices: int) -> str:
    """A confirmation names the people; the device count is a detail after it."""
    names = [shown(a.strip().lower()) for a in accounts]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{who} ({devices} device{'' if devices == 1 else 's'})"


@chat.command("leave")
@click.argument("chat_name")
@profile_options
@with_device
async def leave_cmd(dev: Device, as_json: bool, chat_name: str) -> None:
    """Leave CHAT (a member commits your removal; your keys are forgotten now)."""
    await convs.leave(dev, convs.find(dev, chat_name), now_ms())
    emit(as_json, {"left": chat_name}, lambda: console.print("left"))


@chat.command("rename")
@click.argument("chat_name")
@click.argument("new_name")
@profile_options
@with_device
async def rename_cmd(dev: Device, as_json: bool, chat_name: str, new_name: str) -> None:
    """Rename CHAT (admins only)."""
    await convs.rename(dev, convs.find(dev, chat_name), new_name, now_ms())
    emit(as_json, {"name": new_name}, lambda: console.print(f"renamed to {shown(new_name)}"))


@chat.command("admins")
@click.argument("chat_name")
@click.argument("accounts", nargs=-1, required=True)
@profile_options
@with_device
async def admins_cmd(dev: Device, as_json: bool, chat_name: str, accounts: tuple[str, ...]) -> None:
    """Set the admins of CHAT (admins only)."""
    await convs.set_admins(dev, convs.find(dev, chat_name), list(accounts), now_ms())
    emit(as_json, {"admins": list(accounts)}, lambda: console.print("admins set"))


@chat.command("timer")
@click.argument("chat_name")
@click.argument("seconds", type=click.IntRange(0, 366 * 86400))
@profile_options
@with_device
async def timer_cmd(dev: Device, as_json: bool, chat_name: str, seconds: int) -> None:
    """Disappearing messages in CHAT after SECONDS (0 turns them off)."""
    await messaging.set_timer(dev, convs.find(dev, chat_name), seconds, now_ms())
    emit(as_json, {"seconds": seconds}, lambda: console.print(f"timer set to {seconds} s"))




@chat.command("upgrade")
@click.argument("chat_name")
@profile_options
@with_device
async def upgrade_cmd(dev: Device, as_json: bool, chat_name: str) -> None:
    """Move CHAT to the post-quantum X-Wing suite with an MLS ReInit (every device of
    every member must offer it; admins only)."""
    conv = await reinit.upgrade(dev, convs.find(dev, chat_name), now_ms())
    suite = convs.suite_of(dev, conv)
    emit(as_json, {"id": conv["conv_id"], **suite},
         lambda: console.print(f"{shown(conv['name'])} now uses {suite_text(suite)}"))


# issue 19: the inbox's list, archive and local deletion live with the overview
from accord.cli import inbox_cmd  # noqa: E402

for _command in inbox_cmd.CHAT_COMMANDS:
    chat.add_command(_command)
