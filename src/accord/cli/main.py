"""The ``accord`` command. Subcommands live in their own modules and only drive libraries.

Start-up is lazy (issue 19): the group knows each command's module, attribute and
help line, and imports a module only when its command runs. ``accord --help`` lists
the table without importing any of them (interop and gRPC cost ~0.3 s alone).
tests/cli/test_lazy_cli.py keeps the table in step with the modules.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> (module under accord.cli, attribute, help line shown by ``accord --help``)
LAZY: dict[str, tuple[str, str, str]] = {
    "account": ("account_data_cmd", "account",
                "What your provider holds about your account: export it, or delete it all."),
    "admin": ("admin_cmd", "admin",
              "Abuse handling for a provider's operator: reports, suspensions, refused peers."),
    "agent": ("agent_cmd", "agent",
              "Unlock once per session: a local agent holds the profile key for a while."),
    "alerts": ("verify_cmd", "alerts_cmd",
               "Security alerts (key transparency, split views, changed keys)."),
    "backup": ("backup_cmd", "backup_group",
               "Encrypted backups of your history, contacts and settings."),
    "bench": ("bench_cmd", "bench", "Run benchmark NAME (see bench/); without NAME, list them."),
    "block": ("report_cmd", "block_cmd",
              "Block a user (user@domain) or a whole domain, or lift a block."),
    "chat": ("chat_cmd", "chat",
             "Conversations (each one an MLS group of every device of every member)."),
    "contacts": ("verify_cmd", "contacts",
                 "People you share conversations with; verify them with safety numbers."),
    "cover": ("cover_cmd", "cover_group",
              "Cover traffic: posts to your note-to-self group at random times (off by default)."),
    "delete": ("message_cmd", "delete_cmd", "Delete one of your messages for everyone."),
    "demo": ("demo_cmd", "demo", "Run an end-to-end encrypted group conversation across two "
             "providers on loopback."),
    "devices": ("devices_cmd", "devices",
                "Your account's devices: list, link a new one, remove one."),
    "download": ("message_cmd", "download_cmd",
                 "Download, check and decrypt a message's attachment into --out."),
    "edit": ("message_cmd", "edit_cmd", "Replace the text of one of your messages."),
    "init": ("account_cmd", "init_cmd",
             "Create this device's encrypted profile and its signature key."),
    "interop": ("interop_cmd", "interop",
                "MLS interop: run the working group's scenarios against MLSClient servers."),
    "mimi": ("mimi_cmd", "mimi",
             "MIMI: check a provider's MIMI endpoints against draft-ietf-mimi-protocol-06."),
    "listen": ("account_cmd", "listen_cmd",
               "Show what arrived since you last listened, then everything live: messages, "
               "edits, deletions, reactions, read receipts and history events."),
    "outbox": ("outbox_cmd", "outbox_group",
               "What this device has not delivered yet: pending (retried), held, failed."),
    "profile": ("inbox_cmd", "profile",
                "What others see of you (sent end to end encrypted to your conversations)."),
    "react": ("message_cmd", "react_cmd", "React to a message with an emoji."),
    "read": ("message_cmd", "read_cmd", "Show a conversation's messages and events."),
    "register": ("account_cmd", "register_cmd",
                 "Register ACCOUNT (user@domain) with this device as its first device."),
    "report": ("report_cmd", "report_cmd", "Report an abusive message to your provider."),
    "requests": ("requests_cmd", "requests",
                 "Message requests: first contact from strangers, of any provider."),
    "search": ("account_cmd", "search_cmd", "Full-text search of your local archive, newest "
               "first (every word matches as a prefix; by text, sender, conversation, date)."),
    "send": ("message_cmd", "send_cmd", "Send TEXT (and optionally a file) to CHAT."),
    "server": ("server_cmd", "server", "Run a provider for DOMAIN on HOST:PORT."),
    "settings": ("account_cmd", "settings_cmd", "Show or change this device's settings "
                 "(periodic key updates T09, post-quantum T10)."),
    "vectors": ("vectors_cmd", "vectors", "Check every entry of MLS test-vector FILES, or "
                "MIMI content examples (--kind mimi-content); the last line is `N passed, M failed`."),
    "verify": ("verify_cmd", "verify_cmd", "Check keys against transparency logs now: your "
               "own devices (T05), the heads of your contacts' providers (gossip), and each "
               "ACCOUNT's current device keys."),
    "web": ("web_cmd", "web",
            "Serve the Accord app for this profile on 127.0.0.1 and open it in the browser."),
}


def load_command(name: str) -> click.Command:
    module, attr, _ = LAZY[name]
    command = getattr(importlib.import_module(f"accord.cli.{module}"), attr)
    assert isinstance(command, click.Command)
    return command


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; ``add_command`` still works
    for commands registered eagerly."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*LAZY, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        eager = super().get_command(ctx, cmd_name)
        if eager is not None or cmd_name not in LAZY:
            return eager
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            eager = self.commands.get(name)
            if eager is not None:
                rows.append((name, eager.get_short_help_str(limit)))
            else:
                rows.append((name, click.utils.make_default_short_help(LAZY[name][2], limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="accord")
def cli() -> None:
    """Accord: an open, interoperable, end-to-end encrypted messenger."""


def main(**kw: Any) -> None:
    cli(**kw)
