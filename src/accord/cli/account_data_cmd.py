"""``accord account export`` and ``accord account delete`` (T18)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from accord.cli.client_common import console, emit, profile_options, with_device
from accord.cli.safe_text import shown
from accord.client import account_data
from accord.client.device import Device


@click.group("account")
def account() -> None:
    """What your provider holds about your account: export it, or delete it all."""


@account.command("export")
@click.option("--to", "to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON to this file (default: print it).")
@profile_options
@with_device
async def export_cmd(dev: Device, as_json: bool, to: Path | None) -> None:
    """Everything the provider holds about this account, as JSON."""
    doc = await account_data.export(dev)
    if to is not None:
        to.write_text(json.dumps(doc, indent=2))
        console.print(f"written to {shown(to)}")
    else:
        click.echo(json.dumps(doc, indent=2))


@account.command("delete")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@profile_options
@with_device
async def delete_cmd(dev: Device, as_json: bool, yes: bool) -> None:
    """Erase this account at its provider (all devices, keys, queues, backups)."""
    ident = dev.identity
    if not yes:
        click.confirm(f"Delete {ident.account} and all its devices for good?", abort=True)
    result = await account_data.delete(dev)
    rows = sum(e.rows for e in result.erased)
    emit(as_json, {"erased": {e.table: e.rows for e in result.erased},
                   "peers_told": result.peers_told},
         lambda: console.print(f"deleted: {rows} rows erased; peers told: "
                               + (shown(", ".join(result.peers_told)) or "none")))
