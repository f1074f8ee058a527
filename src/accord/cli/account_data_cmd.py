"""``accord account export`` and ``accord account delete`` (T18)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from accord.cli.client_common import console, emit, profile_options, with_device
from accord.cli.safe_text import shown
from accord.client.device import Device
from accord.wire import privacy as w


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
    resp = await dev.api._send("GET", "/v1/account/export", auth=True)
    doc = json.loads(resp.content)
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
    sig = dev.sign(w.delete_input(ident.domain, ident.account))
    result = await dev.api._json(w.DeleteAccountResult, "POST", "/v1/account/delete",
                                 body=w.DeleteAccountRequest(account=ident.account,
                                                             signature=sig), auth=True)
    rows = sum(e.rows for e in result.erased)
    # The history stays readable here, offline; the device knows it is gone (issue 19).
    dev.store.put_json("device_removed", True)
    emit(as_json, {"erased": {e.table: e.rows for e in result.erased},
                   "peers_told": result.peers_told},
         lambda: console.print(f"deleted: {rows} rows erased; peers told: "
                               + (shown(", ".join(result.peers_told)) or "none")))
