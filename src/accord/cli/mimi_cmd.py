"""``accord mimi``: the MIMI protocol (draft-ietf-mimi-protocol-06) from the outside.

``check URL`` is the conformance check of :mod:`accord.interop.mimi_check`.
"""

from __future__ import annotations

import asyncio
import sys

import click

from accord import http_client
from accord.interop.mimi_check import Finding, check, summary


@click.group("mimi")
def mimi() -> None:
    """MIMI: check a provider's MIMI endpoints against draft-ietf-mimi-protocol-06."""


@mimi.command("check")
@click.argument("url")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds per request.")
def check_cmd(url: str, timeout: float) -> None:
    """Fetch URL's MIMI directory and probe each endpoint: what conforms, differs, is missing.

    Exits 1 when anything differs; the last line is 'N conform, M differ, K missing'.
    """
    async def run() -> list[Finding]:
        async with http_client.async_client(timeout=timeout) as http:
            return await check(url, http)

    findings = asyncio.run(run())
    for f in findings:
        click.echo(f.line())
    click.echo(summary(findings))
    if any(f.verdict == "differs" for f in findings):
        sys.exit(1)
