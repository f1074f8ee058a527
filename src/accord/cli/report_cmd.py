"""``accord report CHAT MSG_ID`` (T13) and ``accord block TARGET``."""

from __future__ import annotations

import click

from accord.cli.client_common import console, emit, profile_options, with_device
from accord.cli.safe_text import shown
from accord.client import conversations as convs
from accord.client import report as reporting
from accord.client.device import Device
from accord.client.history import resolve_message
from accord.wire import federation as fw
from accord.wire.privacy import MAX_NOTE, MAX_REASON


@click.command("report")
@click.argument("chat")
@click.argument("message_id")
@click.option("--block", is_flag=True, help="Also block the sender.")
@click.option("--reason", "reason_code", type=click.IntRange(0, MAX_REASON), default=0,
              help="A reason code (MIMI's AbuseType, 0 to 255; 0: none).")
@click.option("--note", default="", help=f"Your words for the provider (at most {MAX_NOTE} "
              "bytes).")
@profile_options
@with_device
async def report_cmd(dev: Device, as_json: bool, chat: str, message_id: str,
                     block: bool, reason_code: int, note: str) -> None:
    """Report an abusive message to your provider.

    This reveals the message's text, the sender's account, the conversation's
    id and the time, with your reason and note, to your provider and the
    conversation's hub provider.
    """
    conv = convs.find(dev, chat)
    result = await reporting.report(dev, conv, resolve_message(dev, conv, message_id),
                                    block=block, reason_code=reason_code, note=note)
    outcome = result.outcome or ("verified" if result.verified else "refused")
    said = ("verified by" if outcome == "verified"
            else "accepted (over MIMI the hub does not say whether it verified) by")
    emit(as_json, {"verified": result.verified, "outcome": outcome, "hub": result.hub,
                   "report_id": result.report_id, "reason": reason_code, "note": note},
         lambda: console.print(f"reported; {said} {shown(result.hub)}"
                               + (f" (reason {reason_code})" if reason_code else "")
                               + (f", note {shown(repr(note))}" if note else "")
                               + (" (sender blocked)" if block else "")))


@click.command("block")
@click.argument("target")
@click.option("--lift", is_flag=True, help="Lift the block instead.")
@profile_options
@with_device
async def block_cmd(dev: Device, as_json: bool, target: str, lift: bool) -> None:
    """Block a user (user@domain) or a whole domain, or lift a block."""
    if lift:
        await dev.api._send("DELETE", f"/v1/blocks/{target}", auth=True)
        targets = (await dev.api._json(fw.BlockList, "GET", "/v1/blocks", auth=True)).targets
    else:
        targets = (await dev.api._json(fw.BlockList, "POST", "/v1/blocks",
                                       body=fw.BlockRequest(target=target), auth=True)).targets
    emit(as_json, {"blocked": targets},
         lambda: console.print("blocked: " + (shown(", ".join(targets)) or "nobody")))
