"""``accord cover on|off|status|run``: optional cover traffic for this device (T12)."""

from __future__ import annotations

import random

import click

from accord.cli.client_common import console, emit, now_ms, profile_options, with_device
from accord.client import cover
from accord.client.device import Device


@click.group("cover")
def cover_group() -> None:
    """Cover traffic: posts to your note-to-self group at random times (off by default)."""


@cover_group.command("on")
@click.option("--mean-seconds", type=int, default=None, help="Mean interval (default 300).")
@profile_options
@with_device
async def on_cmd(dev: Device, as_json: bool, mean_seconds: int | None) -> None:
    cfg = cover.configure(dev, True, mean_seconds)
    emit(as_json, cfg, lambda: console.print(f"cover traffic on (mean {cfg['mean_s']} s)"))


@cover_group.command("off")
@profile_options
@with_device
async def off_cmd(dev: Device, as_json: bool) -> None:
    cfg = cover.configure(dev, False)
    emit(as_json, cfg, lambda: console.print("cover traffic off"))


@cover_group.command("run")
@click.option("--duration", type=int, default=600, help="Seconds to run (bounded).")
@profile_options
@with_device
async def run_cmd(dev: Device, as_json: bool, duration: int) -> None:
    """Send cover posts while this runs (when the setting is on)."""
    sent = await cover.run(dev, now_ms, random.SystemRandom(), 1000 * min(duration, 86_400))
    emit(as_json, {"sent": sent}, lambda: console.print(f"{sent} cover posts sent"))
