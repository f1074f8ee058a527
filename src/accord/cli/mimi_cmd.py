"""``accord mimi``: the MIMI protocol (draft-ietf-mimi-protocol-06) from the outside.

``check URL`` is the conformance check of :mod:`accord.interop.mimi_check`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from accord import http_client
from accord.errors import ValidationError
from accord.federation.provider_key import key_of, key_path, signing_key_of
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
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The --sign-as provider's --key-file, when its keys are sealed in its"
                   " PostgreSQL database (with --provider-database).")
def check_cmd(url: str, timeout: float, domain: str | None, sign_as: str | None,
              provider_data: Path | None, provider_database: str | None,
              key_file: str | None) -> None:
    """Fetch URL's MIMI directory and probe each endpoint: what conforms, differs, is missing.

    Exits 1 when anything differs; the last line is 'N conform, M differ, K missing'.
    """
    signer = None
    if sign_as is not None or provider_data is not None:
        if sign_as is None or provider_data is None or (
                provider_database is None and not key_path(provider_data).exists()):
            raise click.UsageError("--sign-as needs --provider-data DIR holding that "
                                   "provider's key (or its --provider-database)")
        if key_file is not None and provider_database is None:
            raise click.UsageError("--key-file unseals the key in the provider's PostgreSQL"
                                   " database: it goes with --provider-database")
        try:
            key = asyncio.run(signing_key_of(provider_data, provider_database,
                                             key_of(key_file)))
        except ValidationError as exc:  # no key file, another one, or not mode 0600
            hint = "" if key_file is not None else " (pass its --key-file)"
            raise click.ClickException(f"cannot read {sign_as}'s signing key: {exc}{hint}"
                                       ) from None
        signer = Signer(sign_as, key.sign)

    async def run() -> list[Finding]:
        async with http_client.async_client(timeout=timeout) as http:
            return await check(url, http, domain=domain, signer=signer)

    findings = asyncio.run(run())
    for f in findings:
        click.echo(f.line())
    click.echo(summary(findings))
    if any(f.verdict == "differs" for f in findings):
        sys.exit(1)
