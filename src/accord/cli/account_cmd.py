"""``accord init``, ``register``, ``contacts``, ``search`` and ``listen``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import click

from accord.cli.client_common import (
    console,
    emit,
    emit_rows,
    err_console,
    fmt_time,
    lock_options,
    now_ms,
    open_device,
    passphrase,
    print_lines,
    profile_dir,
    profile_options,
    run,
    with_device,
)
from accord.cli.safe_text import shown
from accord.client import contacts
from accord.client import passphrase as passphrase_strength
from accord.client.device import Device


@click.command("init")
@click.option("--weak-ok", is_flag=True, help="Accept a very weak passphrase anyway.")
@profile_options
def init_cmd(profile: Path | None, passphrase_file: Path | None, as_json: bool,
             weak_ok: bool) -> None:
    """Create this device's encrypted profile and its signature key."""
    folder = profile_dir(profile)
    words = passphrase(passphrase_file, confirm=True)
    judge_passphrase(words, weak_ok)

    async def go() -> None:
        dev = Device.init(folder, words, **lock_options())
        dev.close()

    run(go())
    emit(as_json, {"profile": str(folder)},
         lambda: console.print(f"Created an encrypted profile in [bold]{shown(folder)}[/bold]. "
                               "Next: accord register user@domain --server URL"))


def judge_passphrase(words: str, weak_ok: bool) -> None:
    """Strength guidance at ``init``: refuse a very weak passphrase unless --weak-ok,
    and say how strong the chosen one is (an estimate, on stderr)."""
    verdict = passphrase_strength.judge(words)
    if not verdict.acceptable and not weak_ok:
        raise click.UsageError(f"this passphrase is very weak (strength {verdict.score}/4). "
                               f"{verdict.hint} Choose another, or pass --weak-ok to keep it.")
    err_console.print(f"passphrase strength {verdict.score}/4 (offline guessing: about "
                      f"{verdict.offline_guessing})"
                      + ("" if verdict.score >= passphrase_strength.STRONG
                         else f". {verdict.hint}"))


@click.command("register")
@click.argument("account")
@click.option("--server", required=True, help="Your provider, e.g. http://127.0.0.1:8400")
@profile_options
def register_cmd(account: str, server: str, profile: Path | None,
                 passphrase_file: Path | None, as_json: bool) -> None:
    """Register ACCOUNT (user@domain) with this device as its first device."""

    async def go() -> dict[str, str]:
        dev = open_device(profile, passphrase_file)
        try:
            ident = await dev.register(account, server, now_ms())
            return {"account": ident.account, "device_id": ident.device_id, "server": server}
        finally:
            await dev.disconnect()
            dev.close()

    out = run(go())
    emit(as_json, out, lambda: console.print(
        f"Registered [bold]{shown(out['account'])}[/bold] (device {shown(out['device_id'])})"))


@click.command("search")
@click.argument("query", default="")
@click.option("--chat", default=None, help="Only this conversation.")
@click.option("--sender", default=None,
              help="Only messages from this person (address, nickname or display name).")
@click.option("--since", default=None, help="YYYY-MM-DD")
@click.option("--until", default=None, help="YYYY-MM-DD")
@profile_options
@with_device
async def search_cmd(dev: Device, as_json: bool, query: str, chat: str | None,
                     sender: str | None, since: str | None, until: str | None) -> None:
    """Full-text search of your local archive, newest first (every word matches as a
    prefix; by text, sender, conversation, date)."""
    from accord.client import search

    rows = search.search(dev, query, sender=sender, chat=chat, since=_day(since),
                         until=_day(until, end=True))
    emit_rows(as_json, rows, lambda r: (
        f"[dim]{fmt_time(r['at'])}[/dim] {shown(r['chat_label'])} [dim]{r['short_id']}[/dim] "
        f"[bold]{shown(r['sender_label'])}[/bold]: {highlighted(r['snippet'], r['spans'])}"),
        "no matches")


def highlighted(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` as inert markup with the spans highlighted: each piece is escaped
    first, and only then is our own markup put around the matches."""
    out, at = [], 0
    for a, b in spans:
        out += [shown(text[at:a]), "[reverse]", shown(text[a:b]), "[/reverse]"]
        at = b
    out.append(shown(text[at:]))
    return "".join(out)


def _day(text: str | None, end: bool = False) -> int | None:
    if text is None:
        return None
    try:
        t = time.mktime(time.strptime(text, "%Y-%m-%d"))
    except ValueError:
        raise click.BadParameter("dates are YYYY-MM-DD") from None
    return int(t * 1000) + (86_399_999 if end else 0)


@click.command("listen")
@click.option("--duration", default=3600.0, show_default=True, type=click.FloatRange(0.1),
              help="Stop after this many seconds.")
@click.option("--idle", default=30.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Reconnect a push session that was silent this many seconds.")
@click.option("--cover/--no-cover", "cover_traffic", default=None,
              help="Send cover traffic while listening (default: `accord cover on|off`).")
@profile_options
@with_device
async def listen_cmd(dev: Device, as_json: bool, duration: float, idle: float,
                     cover_traffic: bool | None = None) -> None:
    """Show what arrived since you last listened, then everything live: messages,
    edits, deletions, reactions, read receipts and history events. Reconnects with
    backoff; exits with status 3 when this device was removed."""
    import random

    from accord.client import cover  # issue 11: optional cover traffic (T12)

    covering = asyncio.create_task(cover.while_listening(
        dev, now_ms, random.SystemRandom(), cover_traffic, int(duration * 1000)))
    try:
        await _listen(dev, as_json, duration, idle)
    finally:
        covering.cancel()


async def _listen(dev: Device, as_json: bool, duration: float, idle: float) -> None:
    import json

    from accord.client import feed, overview

    rows = overview.summaries(dev, archived=None)
    ident = dev.store.get_json("identity", {})
    banner = {"type": "banner", "account": dev.identity.account,
              "device": dev.identity.device_id, "server": ident.get("server"),
              "conversations": len(rows), "unread": sum(r["unread"] for r in rows)}

    def out(item: dict[str, Any], human: str) -> None:
        if as_json:
            click.echo(json.dumps(item))
        else:
            console.print(human)

    out(banner, f"[bold]listening[/bold] as {shown(banner['account'])} "
        f"(device {shown(banner['device'])}) at {shown(banner['server'])}: "
        f"{banner['conversations']} conversations, {banner['unread']} unread. Ctrl-C stops.")

    def on_news(items: list[dict[str, Any]]) -> None:
        for i in items:
            out(i, feed_line(i, lambda a: contacts.label(dev, a)))

    def on_status(text: str) -> None:
        out({"type": "status", "text": text}, f"[dim]-- {shown(text)}[/dim]")

    try:
        await feed.follow(dev, now_ms, on_news, on_status,
                          deadline=time.monotonic() + duration, monotonic=time.monotonic,
                          sleep=asyncio.sleep, idle=idle)
    except feed.DeviceRemoved:
        text = ("this device was removed from its account (or the account was deleted); "
                "its history stays readable here")
        out({"type": "removed", "text": text}, f"[bold red]{text}[/bold red]")
        raise SystemExit(3) from None


def feed_line(i: dict[str, Any], name: Any) -> str:
    """One line of the live view; every peer string goes through ``shown``."""
    where = f"[dim]{fmt_time(i['at'])} {shown(i['chat'])}"
    if i["type"] == "event":
        return f"[yellow]{where}[/dim] * {shown(i['text'])}[/yellow]"
    where += f" {i['short_id']}[/dim]"
    who = shown(name(i["sender"]))
    kind = i["type"]
    if kind == "message":
        files = "".join(" [cyan]" + shown(f"[file {f}]") + "[/cyan]" for f in i["attachments"])
        return f"{where} [bold]{who}[/bold]: {shown(i['text'], multiline=True)}{files}"
    if kind == "edit":
        return f"{where} [bold]{who}[/bold] edited: {shown(i['text'], multiline=True)}"
    if kind == "delete":
        return f"{where} [bold]{who}[/bold] deleted this message"
    by = shown(", ".join(name(a) for a in i["by"]))
    if kind == "reaction":
        return f"{where} {by} reacted {shown(i['emoji'])}"
    if kind == "reaction_removed":
        return f"{where} {by} took back {shown(i['emoji'])}"
    return f"{where} [green]read by {by}[/green]"


@click.command("settings")
@click.option("--update-every-messages", type=click.IntRange(1, 100_000), default=None,
              help="Commit a key update after this many sent messages per conversation.")
@click.option("--update-every-hours", type=click.FloatRange(0.01, 24 * 365), default=None,
              help="... or after this many hours.")
@click.option("--post-quantum/--no-post-quantum", default=None,
              help="Offer KeyPackages in the X-Wing suite 0x0053 (T10; on by default). Off:"
                   " new uploads are 0x0001 only, so new conversations with this device"
                   " fall back to 0x0001.")
@click.option("--device-check-minutes", type=click.FloatRange(0, 24 * 60), default=None,
              help="How often conversations are checked for devices their accounts no "
                   "longer have (replaced by a restore); 0: at every sync.")
@click.option("--delivery-reports/--no-delivery-reports", default=None,
              help="Tell senders when their messages reached this device (on by default);"
                   " read receipts are `read --no-receipts`.")
@profile_options
@with_device
async def settings_cmd(dev: Device, as_json: bool, update_every_messages: int | None,
                       update_every_hours: float | None, post_quantum: bool | None,
                       device_check_minutes: float | None,
                       delivery_reports: bool | None) -> None:
    """Show or change this device's settings (periodic key updates T09, post-quantum T10)."""
    if update_every_messages is not None:
        dev.set_settings(update_every_messages=update_every_messages)
    if update_every_hours is not None:
        dev.set_settings(update_every_ms=int(update_every_hours * 3_600_000))
    if post_quantum is not None:
        dev.set_settings(post_quantum=int(post_quantum))
    if device_check_minutes is not None:
        dev.set_settings(device_check_ms=int(device_check_minutes * 60_000))
    if delivery_reports is not None:
        dev.set_settings(delivery_reports=int(delivery_reports))
    s = dev.settings
    out = {"update_every_messages": s.update_every_messages,
           "update_every_hours": s.update_every_ms / 3_600_000,
           "post_quantum": bool(s.post_quantum),
           "device_check_minutes": s.device_check_ms / 60_000,
           "delivery_reports": bool(s.delivery_reports)}
    emit(as_json, out, lambda: print_lines([f"{k}: {shown(v)}" for k, v in out.items()]))
