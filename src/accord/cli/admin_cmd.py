"""``accord admin``: a provider operator's actions on abuse (T13), run next to the server.

It opens the provider's store directly (``--data``/``--database``, as
``accord server``): whoever can read the provider's data folder is its
operator, so no network credential exists to steal. Reports show the
revealed message; nothing else here reads message content.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from accord.cli.client_common import console, now_ms, run
from accord.cli.safe_text import shown
from accord.content import quarantine_preview
from accord.content.model import MAX_TEXT_BYTES
from accord.errors import DecodeError
from accord.storage import Store, open_store
from accord.wire import b64e


def _with_store(data: Path, database: str | None,
                fn: Callable[[Store], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        store = await open_store(data, database)
        try:
            return await fn(store)
        finally:
            await store.close()

    return run(go())


@click.group("admin")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The provider's data folder.")
@click.option("--database", default=None, help="PostgreSQL URL, when the provider uses one.")
@click.pass_context
def admin(ctx: click.Context, data: Path, database: str | None) -> None:
    """Abuse handling for a provider's operator: reports, suspensions, refused peers."""
    ctx.obj = (data, database)


def _text_of(content: bytes) -> str:
    """The reported text on one line (its kind for another kind of content)."""
    try:
        seen = quarantine_preview(content, max_chars=MAX_TEXT_BYTES)
    except DecodeError:
        return "(undecodable)"
    return seen.text if seen.kind == "text" else seen.kind


@admin.command("reports")
@click.option("--status", default="open",
              help="open, forwarded, acknowledged (sent to a hub over MIMI), closed or all.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def reports_cmd(obj: tuple[Path, str | None], status: str, as_json: bool) -> None:
    """Abuse reports: verified here, or sent on to the room's hub (with the reporter's
    reason code and note, shown escaped)."""
    rows = _with_store(*obj, lambda s: s.reports.list(None if status == "all" else status))
    out = [{"id": r.id, "group": b64e(r.group_id), "reporter": r.reporter,
            "alleged_sender": r.alleged_sender, "text": _text_of(r.content),
            "message_time": r.message_time, "status": r.status,
            "reason": r.reason_code, "note": r.note} for r in rows]
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for r in out:
        console.print(f"#{r['id']} {shown('[' + r['status'] + ']')} from {shown(r['reporter'])} "
                      f"about {shown(r['alleged_sender'] or '?')}: {shown(repr(r['text'][:200]))}"
                      f" reason {r['reason']}"
                      + (f", note {shown(repr(r['note']))}" if r["note"] else ""))
    if not out:
        console.print("no reports")


@admin.command("close-report")
@click.argument("report_id", type=int)
@click.pass_obj
def close_cmd(obj: tuple[Path, str | None], report_id: int) -> None:
    _with_store(*obj, lambda s: s.reports.close(report_id, "closed"))
    console.print(f"report {report_id} closed")


def _action(name: str, action: str | None, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("account")
    @click.option("--reason", default="", help="Kept with the action.")
    @click.pass_obj
    def cmd(obj: tuple[Path, str | None], account: str, reason: str) -> None:
        _with_store(*obj, lambda s: s.admin.set_account_action(account, action, reason,
                                                               now_ms()))
        console.print(f"{shown(account)}: {action or 'no action'}")

    return cmd


def _peer(name: str, refused: bool, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("domain")
    @click.option("--reason", default="")
    @click.pass_obj
    def cmd(obj: tuple[Path, str | None], domain: str, reason: str) -> None:
        _with_store(*obj, lambda s: s.admin.set_peer_refused(domain, refused, reason, now_ms()))
        console.print(f"{shown(domain)}: {'refused' if refused else 'allowed'}")

    return cmd


@admin.command("token")
@click.pass_obj
def token_cmd(obj: tuple[Path, str | None]) -> None:
    """Make the operator token for the admin API (shown once; replaces the previous one)."""
    from accord.server.admin_api import new_token

    token = _with_store(*obj, new_token)
    console.print(f"operator token (shown once): {token}")


admin.add_command(_action("suspend", "suspended", "Suspend a local account (no API access)."))
admin.add_command(_action("limit", "limited", "Rate-limit a local account tightly."))
admin.add_command(_action("lift", None, "Lift a suspension or limit."))
admin.add_command(_peer("refuse-peer", True, "Refuse every request from a peer provider."))
admin.add_command(_peer("allow-peer", False, "Accept a refused peer provider again."))

