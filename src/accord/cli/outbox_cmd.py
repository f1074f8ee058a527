"""``accord outbox [list|retry|drop]``, and how a command says what became of a send.

A send that the provider cannot take now is kept in the outbox (issue 19,
``accord.client.outbox``): the command says it is queued and exits 0; the
next command (any that syncs, ``accord listen``) sends it. Only a final
refusal is an error.
"""

from __future__ import annotations

from typing import Any

import click

from accord.cli.client_common import (
    console,
    emit,
    emit_rows,
    err_console,
    fmt_time,
    listing_group,
    now_ms,
    print_lines,
    profile_options,
    with_device,
)
from accord.cli.safe_text import shown
from accord.client import outbox
from accord.client.device import Device
from accord.client.history import short_id


def report_delivery(dev: Device, as_json: bool, mid: bytes, done: str) -> None:
    """``done`` when the provider took ``mid``; else that it is queued (or held)."""
    item = dev.store.outbox_item(mid)
    if item is None:
        emit(as_json, {"id": mid.hex(), "state": "sent"}, lambda: console.print(done))
        return
    row = outbox.view(dev, item)
    if item.state == "held":
        note = ("held: " + item.error + "; to send it anyway: "
                "accord outbox retry --confirm-key-change")
    else:
        note = (f"queued: the provider cannot take it now ({item.error}); it is kept on this "
                "device and sent by the next command or `accord listen`")
    emit(as_json, {"id": mid.hex(), "state": "queued" if item.state == "pending" else item.state,
                   "error": item.error, "next_attempt_at": row["next_attempt_at"]},
         lambda: err_console.print(f"[yellow]{short_id(mid)} {shown(note)}[/yellow]"))


def _line(r: dict[str, Any]) -> str:
    when = f", next attempt {fmt_time(r['next_attempt_at'])}" if r["next_attempt_at"] else ""
    return (f"{r['id'][:8]}  {shown(r['chat'])}  {r['kind']}  [bold]{r['state']}[/bold]"
            f" ({r['attempts']} attempt(s){when})  {shown(r['error'])}")


def _rows(dev: Device) -> list[dict[str, Any]]:
    names = {c["conv_id"]: c["name"] for c in dev.store.conversations()}
    return [dict(outbox.view(dev, i), chat=names.get(i.conv_id, i.conv_id))
            for i in dev.store.outbox()]


outbox_group = listing_group(
    "outbox", "What this device has not delivered yet: pending (retried), held, failed.")


@outbox_group.command("list")
@profile_options
@with_device
async def list_cmd(dev: Device, as_json: bool) -> None:
    """Every undelivered item (the sync this command made already retried the due ones)."""
    emit_rows(as_json, _rows(dev), _line, "the outbox is empty")


@outbox_group.command("retry")
@click.option("--confirm-key-change", is_flag=True,
              help="Send held items even though keys changed (the gate's question).")
@profile_options
@with_device
async def retry_cmd(dev: Device, as_json: bool, confirm_key_change: bool = False) -> None:
    """Attempt every pending item now, without waiting for its backoff."""
    now = now_ms()
    confirmed: set[str] = set()
    if confirm_key_change:
        for conv_id in {i.conv_id for i in dev.store.outbox() if i.state == "held"}:
            conv = dev.store.conversation(conv_id)
            confirmed |= outbox.named_accounts(dev, conv, now, True)
    outcomes = await outbox.flush(dev, now, force=True, confirmed=confirmed)
    sent = sum(1 for o in outcomes.values() if o is None)
    rows = _rows(dev)
    emit(as_json, {"sent": sent, "outbox": rows}, lambda: print_lines(
        [f"sent {sent} item(s)"] + [_line(r) for r in rows]))


@outbox_group.command("drop")
@click.argument("item_id")
@profile_options
@with_device
async def drop_cmd(dev: Device, as_json: bool, item_id: str) -> None:
    """Give up on an undelivered item (its message stays in the history, marked failed)."""
    item = outbox.drop(dev, item_id)
    emit(as_json, {"dropped": item.msg_id.hex()},
         lambda: console.print(f"dropped {short_id(item.msg_id)}"))
