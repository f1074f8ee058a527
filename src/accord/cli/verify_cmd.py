"""``accord verify``, ``accord alerts`` and ``accord contacts [verify|safety-number]`` (issue 7).

Security alerts are also printed (to stderr, in red) before any command's own
output and at once when one is raised while it runs (``accord listen``
included): ``client_common.attach_alerts``, for every command that opens the
profile.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from accord.cli.client_common import (
    console,
    emit,
    emit_rows,
    err_console,
    now_ms,
    print_lines,
    profile_options,
    with_device,
)
from accord.cli.safe_text import plain, shown
from accord.client import alerts, posting, safety
from accord.client.device import Device
from accord.errors import ValidationError

T = TypeVar("T")


def _fp(key: bytes) -> str:
    return alerts.fingerprint(key)


@click.command("verify")
@click.argument("accounts", nargs=-1)
@click.option("--peer", "peers", multiple=True, metavar="DOMAIN=URL",
              help="Fetch DOMAIN's log directly from URL too (for gossip); remembered.")
@click.option("--approve", "approve", default=None, metavar="KEYPRINT",
              help="Approve a device of your own account by its key fingerprint.")
@profile_options
@with_device
async def verify_cmd(dev: Device, as_json: bool, accounts: tuple[str, ...],
                     peers: tuple[str, ...], approve: str | None) -> None:
    """Check keys against transparency logs now: your own devices (T05), the heads of
    your contacts' providers (gossip), and each ACCOUNT's current device keys."""
    from accord.client import device_kt
    from accord.federation.discovery import parse_peer

    for spec in peers:
        try:
            device_kt.set_peer(dev, *parse_peer(spec))
        except ValidationError as exc:
            raise click.UsageError(str(exc)) from exc
    if approve:
        n = device_kt.approve(dev, approve)
        console.print(f"approved {n} device key(s) of your account")
    now = now_ms()
    await device_kt.after_sync(dev, now, force=True)
    rows: list[dict[str, Any]] = []
    async with device_kt.checker(dev) as kc:
        for account in [dev.identity.account, *accounts]:
            entry = await kc.current_entry(account.strip().lower(), now)
            keys = [] if entry is None else [_fp(k) for k in entry.device_keys]
            rows.append({"account": account, "version": None if entry is None else entry.version,
                         "deleted": bool(entry and entry.deleted), "keys": keys})
    safety.changed_contacts(dev, None, now)
    out = {"accounts": rows, "alerts": len(alerts.pending(dev.store))}
    emit(as_json, out, lambda: print_lines(
        [f"{shown(r['account'])}: v{r['version']} " + (shown(", ".join(r["keys"])) or "no keys")
         + "  [green]proven by its log[/green]" for r in rows]))


@click.command("alerts")
@click.option("--all", "show_all", is_flag=True, help="Also the alerts already seen.")
@profile_options
@with_device
async def alerts_cmd(dev: Device, as_json: bool, show_all: bool) -> None:
    """Security alerts (key transparency, split views, changed keys)."""
    rows = alerts.all_alerts(dev.store) if show_all else alerts.pending(dev.store)
    emit_rows(as_json, rows, lambda a: shown(alerts.describe(a)), "no security alerts")


@click.group("contacts", invoke_without_command=True)
@profile_options
@click.pass_context
def contacts(ctx: click.Context, /, **kw: Any) -> None:
    """People you share conversations with; verify them with safety numbers."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(contacts_list, **kw)


@contacts.command("list")
@profile_options
@with_device
async def contacts_list(dev: Device, as_json: bool) -> None:
    """Contacts, with [verified] or [KEYS CHANGED] marks."""
    changed = set(safety.changed_contacts(dev, None, now_ms()))
    rows = [{"account": c["identity"], "state": c["state"],
             "verified": c["verified_fingerprint"] is not None,
             "keys_changed": c["identity"] in changed, "display_name": c["display_name"],
             "nick": dev.store.contact_meta(c["identity"]).get("nick")}  # issue 19
            for c in dev.store.contacts()]
    emit_rows(as_json, rows, lambda r: (
        f"{shown(r['account'])}  [dim]{shown(r['state'])}[/dim]"
        + (f"  nick [bold]{shown(r['nick'])}[/bold]" if r["nick"] else "")
        + (f"  calls themselves {shown(r['display_name'])}" if r["display_name"] else "")
        + (" [red]KEYS CHANGED[/red]" if r["keys_changed"] else
           " [green]verified[/green]" if r["verified"] else "")), "no contacts yet")


async def _proven(dev: Device, account: str) -> None:
    from accord.client import device_kt

    async with device_kt.checker(dev) as kc:
        now = now_ms()
        await kc.current_entry(dev.identity.account, now)
        await kc.current_entry(account, now)


@contacts.command("safety-number")
@click.argument("account")
@click.option("--qr/--no-qr", default=True, help="Also draw the QR code.")
@profile_options
@with_device
async def safety_number_cmd(dev: Device, as_json: bool, account: str, qr: bool) -> None:
    """The safety number you and ACCOUNT compare (read aloud, or scan the QR code)."""
    account = account.strip().lower()
    await _proven(dev, account)
    digits, _ = safety.current(dev, account)
    def human() -> None:
        console.print(shown(safety.grouped(digits)))
        if qr:
            console.print(safety.qr_text(digits), markup=False)

    emit(as_json, {"account": account, "safety_number": digits}, human)


@contacts.command("verify")
@click.argument("account")
@click.option("--yes", is_flag=True, help="The numbers match (do not ask).")
@profile_options
@with_device
async def contacts_verify(dev: Device, as_json: bool, account: str, yes: bool) -> None:
    """Compare the safety number with ACCOUNT out of band, then mark ACCOUNT verified."""
    account = account.strip().lower()
    await _proven(dev, account)
    digits, _ = safety.current(dev, account)
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise click.UsageError("compare the number first, then pass --yes")
        console.print(safety.grouped(digits))
        console.print(safety.qr_text(digits), markup=False)
        if not click.confirm(f"Does {plain(account)} see the same number?"):
            raise SystemExit(1)
    safety.mark_verified(dev, account)
    emit(as_json, {"account": account, "verified": True, "safety_number": digits},
         lambda: console.print(f"{shown(account)} [green]verified[/green]"))


def confirm_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--confirm-key-change", is_flag=True,
                        help="Go ahead even though a verified contact's keys changed "
                        "(clears the verification).")(fn)


async def adding(flag: bool, add: Callable[[bool | frozenset[str]], Awaitable[T]]) -> T:
    """``add`` (a create or an add of members) with the person's answer to the library's
    key-change gate, which refuses before anything is claimed or committed (issue 18):
    on a terminal the person is asked about each changed contact and it is tried again."""
    if flag:
        return await add(True)
    accepted: frozenset[str] = frozenset()
    while True:  # each round accepts at least one more account, or ends
        try:
            return await add(accepted)
        except safety.KeyChangeUnconfirmed as exc:
            if not sys.stdin.isatty() or exc.accounts <= accepted:
                raise
            err_console.print(f"[bold red]{shown(exc)}[/bold red]")
            if not click.confirm("Add anyway?"):
                raise
            accepted |= exc.accounts


def confirm_key_change(dev: Device, conv: dict[str, Any], flag: bool) -> bool | frozenset[str]:
    """Before a send: ask the person about changed or unproven keys (a terminal only);
    the answer for the library's gate (``messaging.send_body``), which checks again."""

    posting.require_member(dev, conv)  # out of it: say why, before any key question
    if flag:
        return True
    accepted: frozenset[str] = frozenset()
    for _ in range(2):  # keys missing from their log first, then changed contacts
        try:
            safety.check_before_send(dev, conv, now_ms(), confirmed=accepted)
            break
        except safety.KeyChangeUnconfirmed as exc:
            if not sys.stdin.isatty():
                raise
            err_console.print(f"[bold red]{shown(exc)}[/bold red]")
            if not click.confirm("Send anyway?"):
                raise
            accepted |= exc.accounts
    return accepted


# issue 19: nicknames
from accord.cli import inbox_cmd  # noqa: E402

for _command in inbox_cmd.CONTACTS_COMMANDS:
    contacts.add_command(_command)
