"""``accord devices list|request|link|finish|remove``: the account's devices.

Linking: the new device runs ``accord init`` then ``accord devices request
ACCOUNT --server URL``, which shows a link code (and its QR code); on an
existing device, ``accord devices link CODE`` certifies the new key with the
provider; the new device then runs ``accord devices finish``, and the
existing device adds it to every conversation at its next sync.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import click
import segno

from accord.cli.client_common import (
    console,
    emit,
    now_ms,
    open_device,
    print_lines,
    profile_options,
    run,
    with_device,
)
from accord.client import housekeeping
from accord.client.device import Device
from accord.errors import AccordError


@click.group("devices", invoke_without_command=True)
@click.pass_context
def devices(ctx: click.Context) -> None:
    """Your account's devices: list, link a new one, remove one."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


@devices.command("list")
@profile_options
@with_device
async def list_cmd(dev: Device, as_json: bool) -> None:
    """The devices the provider lists for your account."""
    ident = dev.identity
    listed = await dev.api.list_devices(ident.account)
    rows = [{"device_id": d.device_id, "this_device": d.device_id == ident.device_id,
             "key": d.signature_key.hex()[:16]} for d in listed.devices]
    emit(as_json, rows, lambda: print_lines(
        [f"{r['device_id']}  key {r['key']}…{'  (this device)' if r['this_device'] else ''}"
         for r in rows]))


def qr_text(code: str) -> str:
    out = io.StringIO()
    segno.make(code, error="m").terminal(out=out, compact=True)
    return out.getvalue()


@devices.command("request")
@click.argument("account")
@click.option("--server", required=True)
@profile_options
def request_cmd(account: str, server: str, profile: Path | None, passphrase_file: Path | None,
                as_json: bool) -> None:
    """On the NEW device: show the code that an existing device of ACCOUNT links."""

    async def go() -> str:
        dev = open_device(profile, passphrase_file)
        try:
            return dev.link_request(account, server)
        finally:
            dev.close()

    code = run(go())
    emit(as_json, {"code": code}, lambda: print_lines([
        qr_text(code), f"Link code: [bold]{code}[/bold]",
        "On an existing device run: accord devices link CODE; "
        "then here: accord devices finish"]))


@devices.command("link")
@click.argument("code")
@profile_options
@with_device
async def link_cmd(dev: Device, as_json: bool, code: str) -> None:
    """On an EXISTING device: certify the new device whose code you were shown."""
    device_id = await housekeeping.link_device(dev, code, now_ms())
    emit(as_json, {"device_id": device_id}, lambda: console.print(
        f"linked device {device_id}; it joins your conversations once it has run "
        "`accord devices finish` and this device syncs"))


@devices.command("finish")
@click.option("--wait", default=60.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds to wait for the existing device's approval.")
@profile_options
def finish_cmd(wait: float, profile: Path | None, passphrase_file: Path | None,
               as_json: bool) -> None:
    """On the NEW device: complete the link once an existing device approved it."""

    async def go() -> dict[str, str]:
        dev = open_device(profile, passphrase_file)
        deadline = time.monotonic() + wait
        try:
            for _ in range(int(wait) + 2):  # one attempt a second, bounded
                ident = await dev.complete_link(now_ms())
                if ident is not None:
                    await dev.sync(now_ms())
                    return {"account": ident.account, "device_id": ident.device_id}
                if time.monotonic() >= deadline:
                    raise AccordError("not linked yet; run `accord devices link CODE` "
                                      "on an existing device")
                await asyncio.sleep(1.0)
            raise AccordError("not linked yet")
        finally:
            await dev.disconnect()
            dev.close()

    out = run(go())
    emit(as_json, out, lambda: console.print(
        f"this device is now {out['account']} (device {out['device_id']})"))


@devices.command("remove")
@click.argument("device_id")
@profile_options
@with_device
async def remove_cmd(dev: Device, as_json: bool, device_id: str) -> None:
    """Remove DEVICE_ID from your account and from every conversation."""
    n = await housekeeping.remove_device(dev, device_id, now_ms())
    emit(as_json, {"conversations": n}, lambda: console.print(
        f"removed {device_id} (from {n} conversation(s))"))
