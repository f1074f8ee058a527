"""``accord devices list|link|join|remove``: the account's devices.

Linking (issue 5): on an EXISTING device, ``accord devices link`` shows a
short code (and its QR code) and waits; on the NEW device, after ``accord
init``, ``accord devices join CODE --server URL`` answers it through the
provider's rendezvous slot (sealed under a key derived from the code, see
``accord.client.linking``). Both show the new device's key fingerprint; the
existing device certifies it and adds it to every conversation.

The older flow (the new device shows a long code: ``devices request``, then
``devices link CODE`` on the existing device, then ``devices finish``) still
works for scripts that cannot run both sides at once.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import segno

from accord.cli.client_common import (
    console,
    emit,
    emit_rows,
    listing_group,
    now_ms,
    open_device,
    print_lines,
    profile_options,
    run,
    with_device,
)
from accord.cli.safe_text import shown
from accord.client import housekeeping, linking
from accord.client.device import Device
from accord.client.device_core import Identity
from accord.errors import AccordError

MAX_POLLS = 700  # with POLL_S, more than the longest --wait
POLL_S = 1.0


devices = listing_group("devices", "Your account's devices: list, link a new one, remove one.")


@devices.command("list")
@profile_options
@with_device
async def list_cmd(dev: Device, as_json: bool) -> None:
    """The devices the provider lists for your account."""
    ident = dev.identity
    listed = await dev.api.list_devices(ident.account)
    rows = [{"device_id": d.device_id, "this_device": d.device_id == ident.device_id,
             "key": d.signature_key.hex()[:16]} for d in listed.devices]
    emit_rows(as_json, rows, lambda r: f"{shown(r['device_id'])}  key {shown(r['key'])}…"
              + ("  (this device)" if r["this_device"] else ""))


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
    """On the NEW device (older flow): show a long code for `accord devices link CODE`."""

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
@click.argument("code", required=False)
@click.option("--wait", default=300.0, show_default=True, type=click.FloatRange(1, 600),
              help="Seconds to wait for the new device.")
@click.option("--yes", is_flag=True, help="Certify without asking (after showing the key).")
@profile_options
@with_device
async def link_cmd(dev: Device, as_json: bool, code: str | None, wait: float,
                   yes: bool) -> None:
    """On an EXISTING device: show a linking code and certify the device that enters it.

    With CODE (the older flow), certify the new device that showed CODE."""
    if code is not None:
        device_id = await housekeeping.link_device(dev, code, now_ms())
        emit(as_json, {"device_id": device_id}, lambda: console.print(
            f"linked device {shown(device_id)}; it joins your conversations once it has run "
            "`accord devices finish` and this device syncs"))
        return
    out = await _link_with_code(dev, as_json, wait, yes)
    emit(as_json, out, lambda: console.print(
        f"linked device {shown(out['device_id'])}; added to every conversation"
        + (f" except {shown(out['missing'])} (at a later sync)" if out["missing"] else "")))


async def _link_with_code(dev: Device, as_json: bool, wait: float, yes: bool) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    slot = await linking.open_slot(dev, now_ms(), ttl_ms=int(wait * 1000))
    if as_json:
        click.echo(json.dumps({"code": slot.code}), nl=True)
        sys.stdout.flush()
    else:
        print_lines([qr_text(slot.code), f"Linking code: [bold]{slot.code}[/bold]",
                     "On the new device run: accord init, then "
                     f"accord devices join {slot.code} --server {dev.identity.server}"])
    try:
        new = await _wait_for_answer(dev, slot, deadline)
        if not as_json:
            console.print(f"new device key fingerprint: [bold]{new.fingerprint}[/bold] "
                          "(the new device shows the same)")
        if not yes and not click.confirm("Certify this device?", default=False):
            raise AccordError("linking cancelled; nothing was certified")
        device_id = await linking.certify(dev, slot, new)
    finally:
        await linking.close_slot(dev, slot)
    missing = await _add_everywhere(dev, device_id, deadline)
    return {"device_id": device_id, "fingerprint": new.fingerprint, "missing": missing}


async def _wait_for_answer(dev: Device, slot: linking.LinkSlot,
                           deadline: float) -> linking.NewDevice:
    for _ in range(MAX_POLLS):  # one poll a second, bounded in count and time
        new = await linking.poll_answer(dev, slot)
        if new is not None:
            return new
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    raise AccordError("no device entered the code in time; run `accord devices link` again")


async def _add_everywhere(dev: Device, device_id: str, deadline: float) -> int:
    """Wait (bounded) for the new device's KeyPackages, adding it as soon as they are there."""
    missing = 0
    for _ in range(MAX_POLLS):
        missing = await linking.add_to_conversations(dev, device_id, now_ms())
        if not missing or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    await dev.sync(now_ms())  # also sends the history to the new device
    return missing


@devices.command("join")
@click.argument("code")
@click.option("--server", required=True, help="Your account's provider, e.g. http://127.0.0.1:8400")
@click.option("--wait", default=300.0, show_default=True, type=click.FloatRange(1, 600),
              help="Seconds to wait for the existing device to certify this one.")
@profile_options
def join_cmd(code: str, server: str, wait: float, profile: Path | None,
             passphrase_file: Path | None, as_json: bool) -> None:
    """On the NEW device: enter the CODE an existing device of your account shows."""

    async def go() -> dict[str, str]:
        dev = open_device(profile, passphrase_file)
        try:
            account = await linking.join(dev, code, server)
            fpr = linking.key_fingerprint(dev.signature_public_key)
            if not as_json:
                console.print(f"joining {shown(account)}; this device's key fingerprint: "
                              f"[bold]{fpr}[/bold]; confirm it on your other device")
            ident = await _wait_certified(
                dev, wait,
                "not certified in time; was the fingerprint confirmed on the other device?")
            return {"account": ident.account, "device_id": ident.device_id, "fingerprint": fpr}
        finally:
            await dev.disconnect()
            dev.close()

    _emit_linked(as_json, run(go()))


def _emit_linked(as_json: bool, out: dict[str, str]) -> None:
    emit(as_json, out, lambda: console.print(
        f"this device is now {shown(out['account'])} "
        f"(device {shown(out['device_id'])})"))


async def _wait_certified(dev: Device, wait: float, not_yet: str) -> Identity:
    """Poll until an existing device has certified this one, for ``wait`` seconds at most."""
    deadline = time.monotonic() + wait
    for _ in range(int(wait / POLL_S) + 2):  # bounded in count as well as in time
        ident = await dev.complete_link(now_ms())
        if ident is not None:
            await dev.sync(now_ms())
            return ident
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    raise AccordError(not_yet)


@devices.command("finish")
@click.option("--wait", default=60.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds to wait for the existing device's approval.")
@profile_options
def finish_cmd(wait: float, profile: Path | None, passphrase_file: Path | None,
               as_json: bool) -> None:
    """On the NEW device (older flow): complete the link once a device approved it."""

    async def go() -> dict[str, str]:
        dev = open_device(profile, passphrase_file)
        try:
            ident = await _wait_certified(
                dev, wait,
                "not linked yet; run `accord devices link CODE` on an existing device")
            return {"account": ident.account, "device_id": ident.device_id}
        finally:
            await dev.disconnect()
            dev.close()

    _emit_linked(as_json, run(go()))


@devices.command("remove")
@click.argument("device_id")
@profile_options
@with_device
async def remove_cmd(dev: Device, as_json: bool, device_id: str) -> None:
    """Remove DEVICE_ID from your account and from every conversation."""
    n = await housekeeping.remove_device(dev, device_id, now_ms())
    emit(as_json, {"conversations": n}, lambda: console.print(
        f"removed {shown(device_id)} (from {n} conversation(s))"))
