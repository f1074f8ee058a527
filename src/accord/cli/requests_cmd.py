"""``accord requests list|accept|block|report|sent|cancel``: message requests (T14).

``list``, ``accept``, ``block`` and ``report`` answer strangers' requests to you;
``sent`` and ``cancel`` are the consent requests your provider sent for you to other
providers' users (MIMI 5.7: a claim of theirs was answered "no consent").

Until you accept, a request shows its sender, the plain-text preview of its
sealed first-contact request (checked, issue 18; the invitation itself is not
read) and how many items wait; no attachment is fetched and nothing is sent
for it (no message, receipt or commit; ``accord.client.message_requests``):
reading it is not accepting it.
"""

from __future__ import annotations

from typing import Any

import click

from accord.cli.client_common import (
    console,
    emit,
    emit_rows,
    fmt_time,
    listing_group,
    now_ms,
    profile_options,
    with_device,
)
from accord.cli.safe_text import shown
from accord.client import conversations as convs
from accord.client import message_requests
from accord.client.device import Device
from accord.errors import NotFound


def _find(dev: Device, who: str) -> dict[str, Any]:
    """A pending request by the sender's account, or by conversation name or id."""
    pending = message_requests.pending(dev)
    for conv in pending:
        if who.strip().lower() == conv["meta"]["request"]["from"]:
            return conv
    try:
        return convs.resolve(pending, who)
    except NotFound:
        raise NotFound(f"no pending message request {who!r}; see `accord requests list`") from None


requests = listing_group("requests",
                         "Message requests: first contact from strangers, of any provider.")


@requests.command("list")
@profile_options
@with_device
async def list_cmd(dev: Device, as_json: bool) -> None:
    """Pending requests: sender, plain-text preview and how many items wait unread."""
    rows = [message_requests.summary(dev, conv) for conv in message_requests.pending(dev)]
    emit_rows(as_json, rows, _line, "no message requests")


def _line(r: dict[str, Any]) -> str:
    text = " | ".join(shown(p) for p in r["previews"][-3:]) or "(no preview)"
    dropped = f"; sealed request dropped: {r['dropped']}" if r["dropped"] else ""
    return (f"{shown(r['from'])} ({shown(r['conv_id'])}): {text} "
            f"[{r['waiting']} item(s) waiting, unread until you accept{dropped}]")


@requests.command("accept")
@click.argument("who")
@profile_options
@with_device
async def accept_cmd(dev: Device, as_json: bool, who: str) -> None:
    """Accept the request from WHO (the sender, or the conversation's name or id)."""
    conv = _find(dev, who)
    n = await message_requests.accept(dev, conv, now_ms())
    name = dev.store.conversation(conv["conv_id"])["name"]
    emit(as_json, {"chat": name, "conv_id": conv["conv_id"], "applied": n},
         lambda: console.print(f"accepted; {n} message(s) shown in {shown(repr(name))}"))


@requests.command("block")
@click.argument("who")
@click.option("--domain", is_flag=True, help="Block the sender's whole domain.")
@profile_options
@with_device
async def block_cmd(dev: Device, as_json: bool, who: str, domain: bool) -> None:
    """Block the sender of a request (or its domain) and drop the conversation."""
    conv = _find(dev, who)
    target = await message_requests.block(dev, conv, now_ms(), domain=domain)
    emit(as_json, {"blocked": target}, lambda: console.print(f"blocked {shown(target)}"))


@requests.command("report")
@click.argument("who")
@profile_options
@with_device
async def report_cmd(dev: Device, as_json: bool, who: str) -> None:
    """Report the request from WHO to your provider unread, and block the sender.

    Your provider learns who sent it and when (as it recorded them) and that you
    reported it; nothing of its content leaves this device."""
    conv = _find(dev, who)
    target = await message_requests.report(dev, conv, now_ms())
    emit(as_json, {"reported": target, "blocked": target},
         lambda: console.print(f"reported and blocked {shown(target)}"))


@requests.command("sent")
@profile_options
@with_device
async def sent_cmd(dev: Device, as_json: bool) -> None:
    """Consent requests sent for you: to whom, for which room, and their state
    (pending; granted: adding that user works now; revoked: not asked again for a day)."""
    rows = await message_requests.consent_sent(dev)
    emit_rows(as_json, rows, _sent_line, "no consent requests sent")


def _sent_line(r: dict[str, Any]) -> str:
    room = f" for room {shown(r['room'])}" if r["room"] else ""
    return f"{shown(r['target'])}{room}: {shown(r['state'])} since {fmt_time(r['at'])}"


@requests.command("cancel")
@click.argument("target")
@click.option("--room", default="", help="The room URI the request names (see `sent`).")
@profile_options
@with_device
async def cancel_cmd(dev: Device, as_json: bool, target: str, room: str) -> None:
    """Withdraw the pending consent request sent for you to TARGET (user@domain)."""
    await message_requests.cancel_consent(dev, target.strip().lower(), room)
    emit(as_json, {"cancelled": target, "room": room},
         lambda: console.print(f"cancelled the consent request to {shown(target)}"))
