"""The ``accord`` command. Subcommands live in their own modules and only drive libraries."""

from __future__ import annotations

import click

from accord.cli import account_cmd, message_cmd, verify_cmd
from accord.cli.bench_cmd import bench
from accord.cli.chat_cmd import chat
from accord.cli.demo_cmd import demo
from accord.cli.devices_cmd import devices
from accord.cli.interop_cmd import interop
from accord.cli.server_cmd import server
from accord.cli.vectors_cmd import vectors


@click.group()
@click.version_option(package_name="accord")
def cli() -> None:
    """Accord: an open, interoperable, end-to-end encrypted messenger."""


cli.add_command(vectors)
cli.add_command(interop)
cli.add_command(bench)
cli.add_command(server)
cli.add_command(chat)
cli.add_command(devices)
cli.add_command(demo)
for _command in (*account_cmd.COMMANDS, *message_cmd.COMMANDS, *verify_cmd.COMMANDS):
    cli.add_command(_command)


# issue 11: reports and blocks, backups, account export/deletion, operator actions
from accord.cli import account_data_cmd, admin_cmd, backup_cmd, cover_cmd, report_cmd  # noqa: E402

for _command in (*report_cmd.COMMANDS, *backup_cmd.COMMANDS, *admin_cmd.COMMANDS,
                 *cover_cmd.COMMANDS, account_data_cmd.account):
    cli.add_command(_command)

# T14 on the client: message requests from other providers' users
from accord.cli import requests_cmd  # noqa: E402

for _command in requests_cmd.COMMANDS:
    cli.add_command(_command)


# issue 20: the web app
from accord.cli.web_cmd import web  # noqa: E402

cli.add_command(web)


def main() -> None:
    cli()
