"""``accord send``, ``react``, ``edit``, ``delete``, ``read`` and ``download``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from accord.cli import verify_cmd
from accord.cli.client_common import (
    console,
    emit,
    err_console,
    find_for_post,
    fmt_time,
    now_ms,
    posting_device,
    profile_options,
    text_arg,
    with_device,
)
from accord.cli.outbox_cmd import report_delivery
from accord.cli.safe_text import shown
from accord.cli.verify_cmd import confirm_option
from accord.client import contacts, messaging, outbox, overview, safety
from accord.client import conversations as convs
from accord.client.api import ServerError
from accord.client.device import Device
from accord.client.history import describe_event, resolve_message, short_id, timeline
from accord.errors import Conflict, RateLimited


def _progress_bar(label: str, enabled: bool) -> tuple[Any, Callable[[int, int], None]]:
    if not enabled:
        return None, lambda done, total: None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn  # files only

    bar = Progress(TextColumn(label), BarColumn(), DownloadColumn(), console=console,
                   transient=True)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@click.command("send")
@click.argument("chat")
@click.argument("text", default="")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Attach this file (encrypted with a fresh key).")
@click.option("--reply", "reply", default=None, help="Id (prefix) of the message you answer.")
@click.option("--markdown", is_flag=True,
              help="TEXT is markdown (GFM-MIMI); receivers may show its source.")
@click.option("--topic", default="", help="A topic (MIMI topicId) grouping this text with others.")
@confirm_option
@profile_options
@posting_device
async def send_cmd(dev: Device, as_json: bool, chat: str, text: str, file: Path | None,
                   reply: str | None, markdown: bool = False, topic: str = "",
                   confirm_key_change: bool = False) -> None:
    """Send TEXT (and optionally a file) to CHAT.

    TEXT ``-`` reads the text from stdin (its final newline dropped)."""
    text = text_arg(text)
    if (markdown or topic) and file is not None:
        raise click.UsageError("--markdown and --topic are for texts, not with --file")
    conv, reply_to = await find_for_post(dev, lambda: _reply(dev, chat, reply))
    ok = verify_cmd.confirm_key_change(dev, conv, confirm_key_change)  # issue 7, issue 18
    if file is None:
        if not text:
            raise click.UsageError("nothing to send: give TEXT or --file")
        mid = await messaging.send_text(dev, conv, text, now_ms(), reply_to, confirmed=ok,
                                        markdown=markdown, topic=topic.encode())
    else:
        import mimetypes  # ~50 ms, files only

        media = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        bar, update = _progress_bar("uploading", not as_json)
        if bar is not None:
            bar.start()
        try:
            with file.open("rb") as reader:
                mid = await messaging.send_file_stream(
                    dev, conv, reader, file.stat().st_size, file.name, media, now_ms(),
                    text=text, reply_to=reply_to, progress=update, confirmed=ok)
        finally:
            if bar is not None:
                bar.stop()
    report_delivery(dev, as_json, mid, f"sent {short_id(mid)}")


def _target(dev: Device, chat: str, message_id: str) -> tuple[dict[str, Any], bytes]:
    """The conversation and the message a post refers to (NotFound if not on the device)."""
    conv = convs.find(dev, chat)
    return conv, resolve_message(dev, conv, message_id)


def _reply(dev: Device, chat: str, reply: str | None) -> tuple[dict[str, Any], bytes | None]:
    return _target(dev, chat, reply) if reply else (convs.find(dev, chat), None)


@click.command("react")
@click.argument("chat")
@click.argument("message_id")
@click.argument("emoji")
@click.option("--remove", is_flag=True, help="Take the reaction back.")
@confirm_option
@profile_options
@posting_device
async def react_cmd(dev: Device, as_json: bool, chat: str, message_id: str, emoji: str,
                    remove: bool, confirm_key_change: bool = False) -> None:
    """React to a message with an emoji."""
    conv, target = await find_for_post(dev, lambda: _target(dev, chat, message_id))
    ok = verify_cmd.confirm_key_change(dev, conv, confirm_key_change)
    mid = await messaging.react(dev, conv, target, emoji,
                                now_ms(), remove, confirmed=ok)
    report_delivery(dev, as_json, mid, "reacted")


@click.command("edit")
@click.argument("chat")
@click.argument("message_id")
@click.argument("text")
@confirm_option
@profile_options
@posting_device
async def edit_cmd(dev: Device, as_json: bool, chat: str, message_id: str, text: str,
                   confirm_key_change: bool = False) -> None:
    """Replace the text of one of your messages."""
    text = text_arg(text)
    conv, target = await find_for_post(dev, lambda: _target(dev, chat, message_id))
    ok = verify_cmd.confirm_key_change(dev, conv, confirm_key_change)
    mid = await messaging.edit(dev, conv, target, text,
                               now_ms(), confirmed=ok)
    report_delivery(dev, as_json, mid, "edited")


@click.command("delete")
@click.argument("chat")
@click.argument("message_id")
@confirm_option
@profile_options
@posting_device
async def delete_cmd(dev: Device, as_json: bool, chat: str, message_id: str,
                     confirm_key_change: bool = False) -> None:
    """Delete one of your messages for everyone."""
    conv, target = await find_for_post(dev, lambda: _target(dev, chat, message_id))
    ok = verify_cmd.confirm_key_change(dev, conv, confirm_key_change)
    mid = await messaging.delete(dev, conv, target, now_ms(),
                                 confirmed=ok)
    report_delivery(dev, as_json, mid, "deleted")


@click.command("read")
@click.argument("chat")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--no-receipts", is_flag=True, help="Do not send read receipts.")
@profile_options
@with_device
async def read_cmd(dev: Device, as_json: bool, chat: str, limit: int, no_receipts: bool) -> None:
    """Show a conversation's messages and events."""
    conv = convs.find(dev, chat)
    items = timeline(dev, conv, limit)
    overview.mark_seen(dev, conv)  # issue 19: what was shown is no longer unread
    if not no_receipts:
        try:
            await messaging.mark_read(dev, conv, now_ms())
        except (safety.KeyChangeUnconfirmed, ServerError, RateLimited) as exc:
            # Reading never confirms a key change, and works offline (receipts are
            # not queued: the next `read` sends one for everything still unreceipted).
            err_console.print(f"[yellow]no read receipts sent:[/yellow] {shown(exc)}")
    names = {a: contacts.label(dev, a) for i in items if i["type"] == "message"
             for a in [i["sender"], *i["read_by"], *(w for ws in i["reactions"].values()
                                                     for w in ws)]}
    pending = [outbox.view(dev, i) for i in dev.store.outbox(conv["conv_id"])]
    emit(as_json, {"chat": conv["name"], "id": conv["conv_id"], "items": items, "names": names,
                   "outbox": pending},
         lambda: print_timeline(conv, items, names.get, pending))


def print_timeline(conv: dict[str, Any], items: list[dict[str, Any]],
                   name: Callable[[str], str | None] = lambda a: None,
                   pending: list[dict[str, Any]] | None = None) -> None:
    console.print(f"[bold underline]{shown(conv['name'])}[/bold underline] "
                  f"[dim]({shown(conv['conv_id'])})[/dim]")
    for i in items:
        console.print(format_item(i, items, name))
    others = [p for p in pending or [] if p["kind"] != "text"]  # texts are marked in place
    for p in others:
        console.print(f"[yellow]  {p['state']}: your {p['kind']}"
                      + (f" of {p['target'][:8]}" if p["target"] else "")
                      + f" {shown(p['error'])}[/yellow]")


def format_item(i: dict[str, Any], items: list[dict[str, Any]],
                name: Callable[[str], str | None] = lambda a: None) -> str:
    """One timeline line; ``name`` gives how a person is called (nickname or
    display name with the address, issue 19), else the address is shown."""
    def who(account: str) -> str:
        return name(account) or account

    when = fmt_time(i["at"])
    if i["type"] == "event":
        return f"[yellow]  {when} * {shown(describe_event(i))}[/yellow]"
    sender = shown(who(i["sender"]))
    if i["deleted"]:
        return f"[dim]  {when} {i['short_id']} {sender}: (deleted)[/dim]"
    line = (f"  [dim]{when} {i['short_id']}[/dim] [bold]{sender}[/bold]: "
            f"{shown(i['text'], multiline=True)}")
    if i["reply_to"]:
        quoted = next((x for x in items if x.get("id") == i["reply_to"]), None)
        what = quoted["sender"] + ": " + quoted["text"][:30] if quoted else i["reply_to"][:8]
        line += f" [dim](reply to {shown(what)})[/dim]"
    for a in i["attachments"]:
        line += " [cyan]" + shown(f"[file {a['file_name']}, {a['size']} bytes]") + "[/cyan]"
    if i["edited"]:
        line += " [dim](edited)[/dim]"
    if i.get("outbox"):
        line += f" [yellow]({i['outbox']}: not delivered yet)[/yellow]" \
            if i["outbox"] != "failed" else " [red](failed: not delivered)[/red]"
    if i["read_by"]:
        line += " [green]✓ read by " + shown(", ".join(who(a) for a in i["read_by"])) + "[/green]"
    only_delivered = [a for a, s in i.get("status", {}).items() if s == "delivered"]
    if only_delivered:
        line += " [dim]✓ delivered to " + shown(", ".join(who(a) for a in only_delivered)) + "[/dim]"
    for emoji, by in i["reactions"].items():
        line += " " + shown(f"{emoji} by " + ", ".join(who(a) for a in by))
    return line


@click.command("download")
@click.argument("chat")
@click.argument("message_id")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--index", default=0, show_default=True, type=click.IntRange(0, 15))
@click.option("--force", is_flag=True, help="Replace a file of the same name in --out.")
@profile_options
@with_device
async def download_cmd(dev: Device, as_json: bool, chat: str, message_id: str, out: Path,
                       index: int, force: bool) -> None:
    """Download, check and decrypt a message's attachment into --out."""
    conv = convs.find(dev, chat)
    bar, update = _progress_bar("downloading", not as_json)
    mid = resolve_message(dev, conv, message_id)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".accord-download-{mid.hex()}.part"
    if bar is not None:
        bar.start()
    try:
        with tmp.open("wb") as writer:
            name = await messaging.fetch_attachment_to(
                dev, mid, writer, index, update)
        path = out / Path(name).name  # the name was checked to be no path; be sure anyway
        if path.exists() and not force:
            raise Conflict(f"{path} exists; pass --force to replace it, or --out elsewhere")
        tmp.replace(path)  # only a fully checked file gets its name
    finally:
        tmp.unlink(missing_ok=True)
        if bar is not None:
            bar.stop()
    size = path.stat().st_size
    emit(as_json, {"path": str(path), "size": size},
         lambda: console.print(f"saved {shown(path)} ({size} bytes)"))
