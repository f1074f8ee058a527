"""``accord backup create`` and ``accord backup restore`` (T17)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from accord.cli.client_common import (
    console,
    emit,
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
@profile_options
def restore_cmd(profile: Path | None, passphrase_file: Path | None, as_json: bool,
                src: Path | None, server: str | None, recovery_key: str | None) -> None:
    """Restore into a new profile: it becomes a new device of the account, history back."""
    if (src is None) == (server is None):
        raise click.UsageError("give exactly one of --from FILE or --server URL")
    key = recovery_key or click.prompt("Recovery key", hide_input=True)

    async def go() -> None:
        sealed = src.read_bytes() if src is not None else await backup.download(str(server), key)
        doc = backup.read(sealed, key)
        folder = profile_dir(profile)
        if folder.is_dir() and any(folder.iterdir()):
            dev = Device.open(folder, passphrase(passphrase_file))
        else:
            dev = Device.init(folder, passphrase(passphrase_file, confirm=True))
        try:
            if not dev.registered:
                await backup.relink(dev, doc, now_ms())
            else:
                await dev.connect()
            added = backup.import_history(dev, doc, now_ms())
        finally:
            await dev.disconnect()
            dev.close()
        emit(as_json, {"account": doc["account"], "messages": added},
             lambda: console.print(f"restored {added} messages of {shown(doc['account'])}; ask a "
                                   "member of each conversation to add this device again"))

    run(go())


COMMANDS = (backup_group,)
