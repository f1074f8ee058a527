"""``accord backup create`` and ``accord backup restore`` (T17)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from accord.cli.client_common import (
    console,
    emit,
    err_console,
    lock_options,
    now_ms,
    passphrase,
    profile_dir,
    profile_options,
    run,
    with_device,
)
from accord.cli.safe_text import shown
from accord.client import backup
from accord.client.device import Device
from accord.errors import ValidationError
from accord.privacy.backup_format import new_recovery_key


@click.group("backup")
def backup_group() -> None:
    """Encrypted backups of your history, contacts and settings."""


@backup_group.command("create")
@click.option("--to", "to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the encrypted backup to this file.")
@click.option("--provider", "to_provider", is_flag=True,
              help="Store the encrypted backup with your provider.")
@profile_options
@with_device
async def create_cmd(dev: Device, as_json: bool, to: Path | None, to_provider: bool) -> None:
    """Make a backup under a new recovery key, shown once: write it down."""
    if to is None and not to_provider:
        raise ValidationError("say where: --to FILE and/or --provider")
    key = new_recovery_key(os.urandom)
    sealed = backup.create(dev, now_ms(), key)
    if to is not None:
        to.write_bytes(sealed)
    if to_provider:
        await backup.upload(dev, sealed, key)
    where = ", ".join(x for x in (str(to) if to else "", "provider" if to_provider else "") if x)
    # The one time the recovery key is shown; it is stored nowhere.
    emit(as_json, {"recovery_key": key, "stored": where, "size": len(sealed)},
         lambda: console.print(f"backup stored: {shown(where)}\n\nRecovery key (shown once, "
                               f"write it down; without it the backup cannot be read):\n\n"
                               f"    [bold]{key}[/bold]\n"))


@backup_group.command("restore")
@click.option("--from", "src", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="An encrypted backup file.")
@click.option("--server", default=None, help="Fetch the backup from this provider URL.")
@click.option("--recovery-key", envvar="ACCORD_RECOVERY_KEY", default=None,
              help="The recovery key (else $ACCORD_RECOVERY_KEY, else a prompt).")
@click.option("--yes", is_flag=True, help="Do not ask before replacing the backed-up device.")
@profile_options
def restore_cmd(profile: Path | None, passphrase_file: Path | None, as_json: bool,
                src: Path | None, server: str | None, recovery_key: str | None,
                yes: bool) -> None:
    """Restore into a new profile: it becomes a new device of the account, history back.

    The backed-up device is removed from the account (it can no longer log in);
    your conversations take this device instead at their next check."""
    if (src is None) == (server is None):
        raise click.UsageError("give exactly one of --from FILE or --server URL")
    key = recovery_key or click.prompt("Recovery key", hide_input=True)

    async def go() -> None:
        sealed = src.read_bytes() if src is not None else await backup.download(str(server), key)
        doc = backup.read(sealed, key)
        folder = profile_dir(profile)
        fresh = not (folder.is_dir() and any(folder.iterdir()))
        if fresh:
            _confirm_replacement(doc, folder, yes)
            dev = Device.init(folder, passphrase(passphrase_file, confirm=True),
                              **lock_options())
        else:
            dev = Device.open(folder, passphrase(passphrase_file), **lock_options())
        try:
            added = await backup.restore(dev, doc, key, now_ms(), reseal=src is None)
        finally:
            await dev.disconnect()
            dev.close()
        emit(as_json, {"account": doc["account"], "messages": added,
                       "replaced_device": doc["device_id"] if fresh else None},
             lambda: console.print(
                 f"restored {added} messages of {shown(doc['account'])}; your conversations "
                 "take this device at their next check (a member's or another device's sync);"
                 " those it was alone in are back already"))

    run(go())


def _confirm_replacement(doc: dict[str, object], folder: Path, yes: bool) -> None:
    """Say what a restore does before it removes a device, and ask (or ``--yes``)."""
    plan = (f"This makes {folder} a new device of {shown(doc['account'])} and REMOVES the "
            f"backed-up device {shown(doc['device_id'])} from the account: it can no longer "
            "log in or receive messages; its conversations take this device instead.")
    err_console.print(plan)
    if yes:
        return
    if not sys.stdin.isatty():
        raise ValidationError("restoring removes the backed-up device: add --yes to confirm",
                              "confirmation")
    if not click.confirm("Restore and remove that device?", default=False, err=True):
        raise ValidationError("restore cancelled: nothing changed", "confirmation")
