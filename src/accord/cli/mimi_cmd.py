"""``accord mimi``: the MIMI protocol (draft-ietf-mimi-protocol-06) from the outside.

``check URL`` is the conformance check of :mod:`accord.interop.mimi_check`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from accord import http_client
from accord.federation.provider_key import key_path, signing_key_of
from accord.interop.mimi_check import Finding, Signer, check, summary


@click.group("mimi")
def mimi() -> None:
    """MIMI: check a provider's MIMI endpoints against draft-ietf-mimi-protocol-06."""


@mimi.command("check")
@click.argument("url")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds per request.")
@click.option("--domain", default=None,
              help="The provider's user domain (default: URL's host name).")
@click.option("--sign-as", "sign_as", default=None, metavar="DOMAIN",
              help="Also send signed probes as this provider (needs --provider-data).")
@click.option("--provider-data", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The data folder of the --sign-as provider (its key).")
@click.option("--provider-database", default=None, metavar="URL", envvar="ACCORD_DATABASE",
              help="The --sign-as provider's PostgreSQL URL, when it runs on one (its key"
                   " is there, not in the data folder).")
def check_cmd(url: str, timeout: float, domain: str | None, sign_as: str | None,
              provider_data: Path | None, provider_database: str | None) -> None:
    """Fetch URL's MIMI directory and probe each endpoint: what conforms, differs, is missing.

    Exits 1 when anything differs; the last line is 'N conform, M differ, K missing'.
    """
    signer = None
    if sign_as is not None or provider_data is not None:
        if sign_as is None or provider_data is None or (
                provider_database is None and not key_path(provider_data).exists()):
            raise click.UsageError("--sign-as needs --provider-data DIR holding that "
                                   "provider's key (or its --provider-database)")
        signer = Signer(sign_as, asyncio.run(signing_key_of(provider_data,
                                                            provider_database)).sign)

    async def run() -> list[Finding]:
        async with http_client.async_client(timeout=timeout) as http:
            return await check(url, http, domain=domain, signer=signer)

    findings = asyncio.run(run())
    for f in findings:
        click.echo(f.line())
    click.echo(summary(findings))
    if any(f.verdict == "differs" for f in findings):
        sys.exit(1)
